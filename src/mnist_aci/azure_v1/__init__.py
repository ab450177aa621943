"""The ``aci`` and ``aks`` targets through Azure ML SDK v1 (azureml-core): the tutorial as Microsoft wrote it."""
