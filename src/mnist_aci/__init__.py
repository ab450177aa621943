"""mnist-aci: the Azure ML tutorial 'deploy an image classification model in ACI' as a library."""
