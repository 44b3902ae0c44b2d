"""Docs that run: every `curl` example of README.md and docs/*.md, run as written with the real
`curl` against a stack seeded with the demo data of `make run`; one test per file.

How a page's examples are read (what a writer of an example needs to know):

- Examples live in fenced code blocks. In a shell block (```sh, ```bash, ```shell, ```console or
  no language) every command is a logical line: lines ending in `\\` and quotes left open go on
  with the next line. A curl in a block of another language is a failure: mark the block `sh`.
- Of a block's commands, these run, in page order, in one shell session per page (variables
  carry over from block to block of the page, never to another page): every command that calls
  `curl` (`curl …`, `TAG=$(curl … | sed …)`, `until curl …; do sleep 1; done`), and every variable
  assignment (`G=http://localhost:8000/registry`). Others (`make run`, `eaglet …`, a receiver
  started with `&`) are the reader's set-up, which the test's stack already is, and do not run.
- Every page starts from the demo data alone (the tables emptied and seeded again), with the
  stack `make run` starts — registry, finance, standards, gateway and the job worker — at
  `localhost:8000` (the gateway) and `localhost:8101`–`8103` (the services), which the test
  rewrites to its own servers. The registry runs with `EAGLET_SCREENING__BACKGROUND_ABOVE=100`,
  as the pages say: a screening of the province (330 demo enterprises) runs in the background,
  one of a city (30) is answered at once.
- Keys: the variables of `KEYS` are the demo clients' keys (`make run` prints them) plus CQM, a
  certifier the test creates as `eaglet clients create --kind certifier --org CQM` would. One
  name means one client on every page. A page assigns the key it uses (`BANK=egk_demo_…   # bank
  ICBC-ZJ`) with the client's real demo key or a placeholder (`egk_...`); the test checks a real
  key is that client's and puts the key in either way. Any other variable must be assigned on
  the page before it is used (an unset one fails the example); a placeholder value (`…`, `...`,
  `<next_cursor>`) never works: compute it from an earlier answer.
- Files an example reads by name (`-d @loans.json`) are those of `FILES`, written into the
  examples' working folder; files an example writes (`-o enterprises.xlsx`) go there too. There
  `python3` and `.venv/bin/python` are the test's interpreter (the project's venv).
- Works: every curl the command runs exits 0 and every answer's status is below 400 — unless the
  command's last line says which status it shows, as a comment `# → 404` (anywhere in the
  comment: `# 404 problem: → 404` is fine; the form is `→ NNN`); then every answer must have
  exactly that status. The whole command must exit 0 (pipelines too: `pipefail`).
- Ids an example needs come from earlier answers of the page (`JOB=$(curl … | python3 -c …)`),
  never written as numbers: job and screening ids depend on what ran before.

A failure names the page and line of each example that did not work and why (exit code, status,
curl's error, stderr), all of a page's failures together.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.clients.schemas import ClientCreate
from gateway.clients.service import create_client
from gateway.seed import demo_key
from services.cli.seeding import seed_demo_data
from services.common.auth import Principal
from services.common.db import create_engine, create_sessionmaker
from services.common.settings import get_settings
from tests.gateway.conftest import start_gateway
from tests.support import start_live, start_worker

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]

# Which client each key variable holds, on every page: (kind, org, region) of a demo client of
# gateway/seed.py, or of a client the test creates (CREATED).
KEYS: dict[str, tuple[str, str | None, str | None]] = {
    "KEY": ("admin", None, None),
    "BANK": ("bank", "ICBC-ZJ", None),
    "ZJRCU": ("bank", "ZJRCU", None),
    "GUARANTOR": ("guarantor", "ZJGC", None),
    "CQC": ("certifier", "CQC", None),
    "CQM": ("certifier", "CQM", None),
    "PROVINCE": ("official", None, "330000"),
    "HANGZHOU": ("official", None, "330100"),
    "XIHU": ("official", None, "330106"),
}
CREATED = {"CQM"}  # not demo clients: created by the test (gateway/clients/service.py)

# Files the examples read by name, written into their working folder.
FILES: dict[str, str] = {
    # README's loan batch: one loan of the demo bank ICBC-ZJ to the first demo enterprise.
    "loans.json": json.dumps(
        {
            "records": [
                {
                    "loan_ref": "L-2022-REST-1",
                    "borrower_credit_code": "91330102M00000001P",
                    "borrower_name": "杭州示例机械有限公司",
                    "borrower_size": "small",
                    "product": "credit",
                    "amount": "1000000.00",
                    "annual_rate": "4.35",
                    "issued_on": "2022-06-30",
                    "matures_on": "2023-06-30",
                    "renewal_type": "new",
                    "is_first_loan": True,
                    "outstanding_balance": "1000000.00",
                    "status": "outstanding",
                }
            ]
        },
        ensure_ascii=False,
    ),
}

SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console", "zsh"}
COMMAND_TIMEOUT_S = 30
EXPECTED = re.compile(r"→\s*(\d{3})\b")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
PLACEHOLDER = re.compile(r"…|\.\.\.|<[a-z_]+>")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")

# The curl every example calls: the real one, its verbose trace (status lines, errors) appended to
# a file the test reads, one marker per call. (Without -s, curl's progress meter shares that file:
# its lines end in a carriage return.)
PRELUDE = r"""
set -o pipefail -u
curl() {
  printf '@@call\n' >>"$EAGLET_DOC_TRACE"
  command curl -v "$@" 2>>"$EAGLET_DOC_TRACE"
  local rc=$?
  printf '@@exit %d\n' "$rc" >>"$EAGLET_DOC_TRACE"
  return $rc
}
set -a
"""
EPILOGUE = r"""
__rc=$?
env -0 >"$EAGLET_DOC_STATE"
exit $__rc
"""


@dataclass
class Example:
    page: str
    line: int  # first line of the command on the page
    last_line: int
    text: str  # as written (continuation lines joined by newlines)
    language: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _complete(text: str) -> bool:
    """Whether a shell command is complete: no quote left open, no trailing backslash."""
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return False
    return not text.rstrip("\n").endswith("\\")


def commands(page: str, source: str) -> list[Example]:
    """The commands of the page's shell blocks in order (a curl in another block: language set)."""
    found: list[Example] = []
    lines = source.split("\n")
    fence: str | None = None
    language = ""
    pending: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence, language = m.group(1), m.group(2).lower()
            continue
        if m and line.strip().startswith(fence[0] * len(fence)) and not m.group(2):
            if pending:
                found.append(_example(page, pending, language))
                pending = []
            fence = None
            continue
        if language not in SHELL_LANGUAGES:
            if line.lstrip().startswith("curl "):
                found.append(Example(page, number, number, line, language))
            continue
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending.append((number, line))
        if _complete("\n".join(text for _, text in pending)):
            found.append(_example(page, pending, language))
            pending = []
    return found


def _example(page: str, lines: list[tuple[int, str]], language: str) -> Example:
    text = "\n".join(t for _, t in lines)
    return Example(page, lines[0][0], lines[-1][0], text, language)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return []


def runs(example: Example) -> bool:
    words = _words(example.text)
    if not words:
        return False
    return ASSIGNMENT.match(words[0]) is not None or "curl" in re.split(r"[^\w-]+", example.text)


def expected_status(example: Example) -> int | None:
    last = example.text.split("\n")[-1]
    hash_at = _comment_start(last)
    if hash_at is None:
        return None
    m = EXPECTED.search(last[hash_at:])
    return int(m.group(1)) if m else None


def _comment_start(line: str) -> int | None:
    """Where the shell comment of a line begins (a `#` at the start of a word, outside quotes)."""
    quote: str | None = None
    prev = " "
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and not (quote == '"' and prev == "\\"):
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and prev in " \t":
            return i
        prev = ch
    return None


@dataclass
class Stack:
    gateway: str  # host:port
    services: dict[str, str]  # "8101" → host:port
    keys: dict[str, str]  # the key of each name of KEYS
    folder: Path


def rewrite(text: str, stack: Stack) -> str:
    """The command with the stack's addresses for `localhost:8000` and the services' ports."""
    text = text.replace("localhost:8000", stack.gateway)
    for port, where in stack.services.items():
        text = text.replace(f"localhost:{port}", where)
    return text


@dataclass
class Call:
    statuses: list[int]
    exit: int | None
    trace: str


def _calls(trace: str) -> list[Call]:
    calls = []
    for chunk in trace.split("@@call\n")[1:]:
        statuses = [int(s) for s in re.findall(r"(?:^|\r)< HTTP/[\d.]+ (\d{3})", chunk, re.M)]
        ended = re.search(r"^@@exit (\d+)$", chunk, re.M)
        calls.append(Call(statuses[-1:], int(ended.group(1)) if ended else None, chunk))
    return calls


def _curl_errors(trace: str) -> str:
    return "; ".join(sorted(set(re.findall(r"(?:^|\r)(curl: .*)$", trace, re.M)))) or ""


def run_page(page: str, stack: Stack, source: str | None = None) -> tuple[list[str], int]:
    """Run the page's examples in order; the failures (`page:line: why`) and how many ran."""
    if source is None:
        source = (ROOT / page).read_text(encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EAGLET_DOC_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for name in KEYS:
        env.pop(name, None)
    failures: list[str] = []
    ran = 0
    for example in commands(page, source):
        if example.language not in SHELL_LANGUAGES:
            failures.append(
                f"{example.where}: a curl example in a ```{example.language} block: mark it ```sh"
            )
            continue
        if not runs(example):
            continue
        words = _words(example.text)
        assigned = ASSIGNMENT.match(words[0])
        if assigned and len(words) == 1 and assigned.group(1) in KEYS:
            name, value = assigned.group(1), assigned.group(2)
            key = stack.keys[name]
            who = "/".join(x for x in KEYS[name] if x)
            if value != key and not PLACEHOLDER.search(value):
                failures.append(
                    f"{example.where}: ${name} holds the key of {who} on every page (tests/"
                    f"test_docs_examples.py KEYS); the page assigns another value: {value[:40]}"
                )
            env[name] = key
            continue
        if (
            assigned
            and len(words) == 1
            and "curl" not in example.text
            and PLACEHOLDER.search(assigned.group(2))
        ):
            failures.append(
                f"{example.where}: ${assigned.group(1)} is a placeholder ({assigned.group(2)!r}): "
                "compute it from an earlier answer"
            )
            continue
        ran += 1
        failure, env = _run(example, stack, env)
        if failure:
            failures.append(f"{example.where}: {failure}\n    {example.text.strip()[:300]}")
    return failures, ran


def _run(example: Example, stack: Stack, env: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    trace = stack.folder / ".trace"
    state = stack.folder / ".state"
    trace.write_text("")
    state.unlink(missing_ok=True)
    script = PRELUDE + rewrite(example.text, stack) + "\n" + EPILOGUE
    run_env = {**env, "EAGLET_DOC_TRACE": str(trace), "EAGLET_DOC_STATE": str(state)}
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["bash", "-c", script],
            env=run_env,
            cwd=stack.folder,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"did not finish in {COMMAND_TIMEOUT_S} s", env
    took = time.monotonic() - started
    calls = _calls(trace.read_text(errors="replace"))
    new_env = env
    if state.exists():
        pairs = (item.split("=", 1) for item in state.read_text(errors="replace").split("\0") if "=" in item)
        new_env = {
            k: v
            for k, v in pairs
            if not k.startswith(("BASH_FUNC_", "EAGLET_DOC_"))
            and k not in ("_", "SHLVL", "PWD", "OLDPWD", "__rc")
        }
    stderr = done.stderr.decode(errors="replace").strip()
    want = expected_status(example)
    problems = []
    if not calls and "curl" in re.split(r"[^\w-]+", example.text):
        problems.append("no curl ran")
    for i, call in enumerate(calls, 1):
        which = f"curl #{i}: " if len(calls) > 1 else ""
        if call.exit != 0:
            problems.append(f"{which}curl exited {call.exit} ({_curl_errors(call.trace) or 'no message'})")
        if not call.statuses:
            problems.append(f"{which}no HTTP answer")
            continue
        status = call.statuses[-1]
        if want is None and status >= 400:
            body = done.stdout.decode(errors="replace").strip()[:300]
            problems.append(
                f"{which}HTTP {status} (an example that shows an error says so: `# → {status}`) {body}"
            )
        elif want is not None and status != want:
            problems.append(f"{which}HTTP {status}, the page says → {want}")
    unset = re.search(r"([A-Za-z_][A-Za-z0-9_]*): unbound variable", stderr)
    if unset:
        name = unset.group(1)
        problems = [
            f"${name} is used before the page assigns it"
            + (
                f" (it holds the key of {'/'.join(x for x in KEYS[name] if x)}: `{name}=egk_...   # who`)"
                if name in KEYS
                else ""
            )
        ]
    elif done.returncode != 0 and not any("curl exited" in p for p in problems):
        problems.append(f"the command exited {done.returncode}: {stderr[-300:] or 'no stderr'}")
    if problems:
        return "; ".join(problems) + f" ({took:.1f} s)", new_env
    return None, new_env


@pytest.fixture(scope="module")
def doc_stack(live_services, database_url):
    """The stack of `make run`: a registry screening regions of more than 100 enterprises in the
    background, the live finance and standards, a gateway in front of them, the job worker."""
    missing = [tool for tool in ("bash", "curl", "sed", "tr") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the doc examples run with the real {', '.join(missing)}: install them", pytrace=False)
    registry = start_live("registry", env={"EAGLET_SCREENING__BACKGROUND_ABOVE": "100"})
    gateway = start_gateway(live_services, registry=registry.url)
    yield {"gateway": gateway, "registry": registry, "services": live_services}
    gateway.stop()
    registry.stop()


async def _keys(database_url: str) -> dict[str, str]:
    """The key of each variable of KEYS: the demo clients' keys, and new clients' (as `eaglet
    clients create` makes them) for those of CREATED."""
    keys = {}
    engine = create_engine(get_settings(), "eaglet-docs-test")
    try:
        async with create_sessionmaker(engine)() as session:
            for name, (kind, org, region) in KEYS.items():
                if name in CREATED:
                    data = ClientCreate(kind=kind, org=org, region=region, name=f"{org or region} (docs)")
                    created = await create_client(session, Principal(sub="docs", kind="admin"), data)
                    keys[name] = created.key
                else:
                    keys[name] = demo_key(kind, org, region)
            await session.commit()
    finally:
        await engine.dispose()
    return keys


@pytest.mark.parametrize("page", PAGES)
async def test_examples_run_as_written(page, doc_stack, database_url):
    if not any(runs(e) for e in commands(page, (ROOT / page).read_text(encoding="utf-8"))):
        return  # nothing to run: a page without curl examples
    await seed_demo_data(database_url, force=True)
    keys = await _keys(database_url)
    services = {
        "8101": doc_stack["registry"].url.removeprefix("http://"),
        "8102": doc_stack["services"]["finance"].url.removeprefix("http://"),
        "8103": doc_stack["services"]["standards"].url.removeprefix("http://"),
    }
    worker = start_worker(name="docs-worker")
    try:
        with tempfile.TemporaryDirectory(prefix="eaglet-docs-") as folder:
            for name, content in FILES.items():
                (Path(folder) / name).write_text(content, encoding="utf-8")
            (Path(folder) / ".venv").symlink_to(sys.prefix)  # README's `.venv/bin/python`: this one
            stack = Stack(doc_stack["gateway"].url.removeprefix("http://"), services, keys, Path(folder))
            failures, ran = run_page(page, stack)
    finally:
        worker.stop()
    if failures:
        pytest.fail(
            f"{len(failures)} example(s) of {page} do not work as written ({ran} ran):\n"
            + "\n".join(failures),
            pytrace=False,
        )


def test_pages_have_examples():
    """The reader of the test: the parser finds the examples it should (a page whose examples it
    silently skipped would pass)."""
    readme = commands("README.md", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert sum(runs(e) for e in readme) >= 5
    sample = "```sh\nA=1\ncurl -s 'x\ny' \\\n  -H z   # → 404\n# note\nmake run\n```\n```json\ncurl no\n```\n"
    found = commands("t.md", sample)
    assert [(e.line, e.last_line, runs(e)) for e in found] == [
        (2, 2, True),
        (3, 5, True),
        (7, 7, False),
        (10, 10, True),
    ]
    assert expected_status(found[1]) == 404
    assert found[3].language == "json"


BROKEN = """
```sh
KEY=egk_demo_notthisone   # the demo admin
curl -s localhost:8000/registry/v1/tools/credit-code/91330000733796106P
curl -s localhost:8000/nope
curl -s localhost:8000/nope   # → 404
curl -s localhost:8000/registry/v1/tools/credit-code/91330000733796106P   # → 404
curl -s -H "Authorization: Bearer $NOBODY" localhost:8000/registry/v1/enterprises
curl -s localhost:1/unreachable
ID=…
```
```json
curl -s localhost:8000/nope
```
"""


def test_a_broken_example_fails_with_its_line(doc_stack, tmp_path):
    """The harness itself: each kind of broken example is reported with its page and line."""
    stack = Stack(doc_stack["gateway"].url.removeprefix("http://"), {}, {"KEY": "egk_demo_x"}, tmp_path)
    failures, ran = run_page("t.md", stack, BROKEN)
    by_line = {f.split(":", 2)[1]: f for f in failures}
    assert sorted(by_line, key=int) == ["3", "5", "7", "8", "9", "10", "13"], failures
    assert "$KEY holds the key of admin" in by_line["3"]
    assert "HTTP 404 (an example that shows an error says so: `# → 404`)" in by_line["5"]
    assert "HTTP 200, the page says → 404" in by_line["7"]
    assert "$NOBODY is used before the page assigns it" in by_line["8"]
    assert "curl exited 7" in by_line["9"]
    assert "placeholder" in by_line["10"]
    assert "```json block" in by_line["13"]
    assert ran == 6
