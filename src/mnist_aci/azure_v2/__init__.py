"""The ``endpoint`` target through Azure ML SDK v2 (azure-ai-ml): managed online endpoints and the gated rollout."""
