"""The `eaglet` command's guard rails."""

import socket

from typer.testing import CliRunner

from services.cli import app


def test_up_refuses_a_taken_port_with_one_clear_line(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        monkeypatch.setenv("EAGLET_GATEWAY__PORT", str(port))
        from services.common.settings import get_settings

        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["up"])
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"gateway port {port} already in use" in lines[0]
    assert "Traceback" not in result.output


def test_serve_refuses_an_unknown_process_or_parser_with_one_clear_line():
    for args, says in (
        (["serve", "regsitry"], "unknown process 'regsitry'"),
        (["serve", "registry", "--http", "h2"], "unknown HTTP parser 'h2'"),
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert says in result.output and "Traceback" not in result.output
