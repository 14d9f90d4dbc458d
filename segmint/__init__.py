"""segmint: customer segmentation, recommendations, uplift-driven campaigns and anomaly flags."""

__version__ = "0.1.0"
