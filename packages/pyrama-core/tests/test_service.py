from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pyrama_core import (
    BoxService,
    Extensions,
    Identity,
    Layer,
    Service,
    ServiceFn,
    Stack,
    layers,
    service_fn,
)


@dataclass
class Req:
    trail: list[str] = field(default_factory=list)
    extensions: Extensions = field(default_factory=Extensions)


class Tag:
    """A layer recording the order it sees the input and the output in."""

    def __init__(self, name: str) -> None:
        self.name = name

    def layer(self, inner: Service[Req, list[str]]) -> Service[Req, list[str]]:
        name = self.name

        class Tagged:
            async def serve(self, req: Req) -> list[str]:
                req.trail.append(f"in:{name}")
                out = await inner.serve(req)
                out.append(f"out:{name}")
                return out

        return Tagged()


async def handler(req: Req) -> list[str]:
    req.trail.append("handler")
    return list(req.trail)


async def test_service_fn_serves_and_is_a_service() -> None:
    svc = service_fn(handler)
    assert isinstance(svc, ServiceFn)
    assert isinstance(svc, Service)
    assert await svc.serve(Req()) == ["handler"]
    assert "handler" in repr(svc)


async def test_service_fn_as_decorator() -> None:
    @service_fn
    async def double(x: int) -> int:
        return 2 * x

    assert await double.serve(21) == 42


async def test_layers_first_is_outermost() -> None:
    svc = layers(Tag("a"), Tag("b"), Tag("c")).into(service_fn(handler))
    out = await svc.serve(Req())
    assert out == ["in:a", "in:b", "in:c", "handler", "out:c", "out:b", "out:a"]


async def test_stack_is_a_layer_and_nests() -> None:
    inner_stack = layers(Tag("b"), Tag("c"))
    assert isinstance(inner_stack, Layer)
    svc = layers(Tag("a"), inner_stack, Tag("d")).into(service_fn(handler))
    out = await svc.serve(Req())
    assert out[:5] == ["in:a", "in:b", "in:c", "in:d", "handler"]
    assert len(inner_stack) == 2


async def test_stack_built_once() -> None:
    built: list[str] = []

    class Counting:
        def layer(self, inner: Service[Req, list[str]]) -> Service[Req, list[str]]:
            built.append("x")
            return inner

    svc = Stack(Counting()).into(service_fn(handler))
    for _ in range(3):
        await svc.serve(Req())
    assert built == ["x"]


def test_stack_rejects_non_layers() -> None:
    with pytest.raises(TypeError, match="not a Layer"):
        layers(object())  # type: ignore[arg-type]


async def test_identity_and_empty_stack() -> None:
    inner = service_fn(handler)
    assert Identity().layer(inner) is inner
    assert layers().into(inner) is inner
    assert repr(layers(Identity())).startswith("layers(")


async def test_box_service_hides_the_stack() -> None:
    stacked = layers(Tag("a")).into(service_fn(handler))
    boxed: BoxService[Req, list[str]] = BoxService(stacked)
    assert boxed.inner is stacked
    assert await boxed.serve(Req()) == ["in:a", "handler", "out:a"]
    assert "BoxService" in repr(boxed)
    mixed: list[BoxService[Req, list[str]]] = [boxed, BoxService(service_fn(handler))]
    assert [len(await s.serve(Req())) for s in mixed] == [3, 1]


async def test_errors_propagate_through_layers() -> None:
    async def boom(req: Req) -> list[str]:
        raise ValueError("boom")

    svc = layers(Tag("a"), Tag("b")).into(service_fn(boom))
    req = Req()
    with pytest.raises(ValueError, match="boom"):
        await svc.serve(req)
    assert req.trail == ["in:a", "in:b"]
