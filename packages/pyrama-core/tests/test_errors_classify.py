from pyrama_core.errors import ProtocolError, PyramaError, Side, is_connection_fault


def test_network_and_protocol_errors_are_connection_faults() -> None:
    assert is_connection_fault(ConnectionResetError())
    assert is_connection_fault(BrokenPipeError())
    assert is_connection_fault(TimeoutError())
    assert is_connection_fault(ProtocolError("bad frame", side=Side.REMOTE))
    assert is_connection_fault(ProtocolError("we refused", side=Side.LOCAL))


def test_bugs_are_not_connection_faults() -> None:
    assert not is_connection_fault(ValueError("oops"))
    assert not is_connection_fault(KeyError("x"))
    assert not is_connection_fault(PyramaError("plain"))

    class Odd(Exception):
        side = "remote"  # not a Side: does not count

    assert not is_connection_fault(Odd())
