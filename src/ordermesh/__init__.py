"""ordermesh: order management for multi-channel sellers and the 3PLs who fulfil for them."""

__version__ = "0.1.0"
