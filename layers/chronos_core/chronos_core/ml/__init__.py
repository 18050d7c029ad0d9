"""Forecasting: preprocessing, metrics, training (TensorFlow only inside the training module)."""
