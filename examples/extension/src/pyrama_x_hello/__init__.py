r"""pyrama-x-hello: a tiny example of a community pyrama extension.

It provides :class:`HelloLayer`, a layer for stream services that writes a greeting to
every stream before handing it to the inner service::

    from pyrama_core import layers
    from pyrama_x_hello import HelloLayer

    svc = layers(HelloLayer(b"hi there\n")).into(echo)

The distribution registers this module in the ``pyrama.extensions`` entry-point group, so
``pyrama extensions`` lists it and ``pyrama.load_extension("hello")`` returns this module.
"""

from pyrama_x_hello._layer import DESCRIPTION, GreetingStream, HelloLayer, HelloService

__all__ = ["DESCRIPTION", "GreetingStream", "HelloLayer", "HelloService"]

__version__ = "0.1.0"
