"""Floor 2: GGUF, bitsandbytes and ONNX exports, each verified (issue #5)."""
