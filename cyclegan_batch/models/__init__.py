"""The networks, the model file, official checkpoints, ONNX export and the inference engine."""
