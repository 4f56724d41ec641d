"""An independent, literal pandas implementation of the metric catalogue, used as a test oracle."""
