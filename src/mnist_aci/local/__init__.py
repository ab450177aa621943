"""The local target: the model store, the inference server on 127.0.0.1, and ``LocalWebservice``."""
