"""mnist-cnn-lab: an autograded course kit for the MNIST convolutional network lab."""

from mnist_lab.data import MnistDataError, load_mnist

__all__ = ["MnistDataError", "load_mnist"]
__version__ = "0.1.0"
