"Protocols: one module per research system, composing data, models, train and analysis."
