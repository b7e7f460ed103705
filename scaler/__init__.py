"""peakshop's scaler: capacity for the next minutes of traffic, before shoppers feel the peak."""
