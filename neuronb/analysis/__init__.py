"Model-agnostic measurements: they take any `nn.Module`, layer names and data."
