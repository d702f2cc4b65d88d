"""deploy/asterisk: the Asterisk 20 configuration the gateway depends on.

asterisklint checks the dialplan's syntax; the rest cross-checks the files against each other and
against what the gateway does over AMI (../shared/specs/ami.md §2): every action it sends is allowed
for the `hotline` AMI user, every context/subroutine/endpoint/queue a file names exists, and the
compose service and manager.conf agree on addresses. Each check is also run on a deliberately
broken copy, so a check that cannot fail does not pass unnoticed.
"""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.paths import REPO

ROOT = REPO
CONF = ROOT / "deploy" / "asterisk"


# --- a reader for Asterisk's config format ------------------------------------------------------

@dataclass
class Section:
    name: str
    items: list[tuple[str, str]] = field(default_factory=list)  # (key, value), repeats kept, in order
    template: bool = False  # [name](!)
    bases: tuple[str, ...] = ()  # [name](base1,base2)

    def get(self, key: str, default: str | None = None) -> str | None:
        values = self.all(key)
        return values[-1] if values else default

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.items if k == key]


_HEADER = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?\s*$")


def _strip_comment(line: str) -> str:
    out, i = [], 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


def parse_conf(text: str) -> list[Section]:
    """Sections in file order, template inheritance applied (a base's items come first).
    Sections may share a name (pjsip.conf does this on purpose), so this is a list, not a dict."""
    sections: list[Section] = []
    current: Section | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        header = _HEADER.match(line)
        if header:
            opts = [o.strip() for o in (header.group(2) or "").split(",") if o.strip()]
            current = Section(header.group(1).strip(), template="!" in opts, bases=tuple(o for o in opts if o != "!"))
            for base in current.bases:
                found = [s for s in sections if s.name == base and s.template]
                assert found, f"line {lineno}: [{current.name}] uses undefined template {base!r}"
                current.items.extend(found[-1].items)
            sections.append(current)
            continue
        assert current is not None, f"line {lineno}: setting outside a section: {raw!r}"
        key, sep, value = line.partition("=")
        assert sep, f"line {lineno}: not a setting: {raw!r}"
        current.items.append((key.strip(), value.lstrip(">").strip()))
    return sections


def read_conf(name: str) -> list[Section]:
    return parse_conf((CONF / name).read_text(encoding="utf-8"))


def concrete(sections: list[Section]) -> list[Section]:
    return [s for s in sections if not s.template]


def one(sections: list[Section], name: str, type_: str | None = None) -> Section:
    found = [s for s in concrete(sections) if s.name == name and (type_ is None or s.get("type") == type_)]
    assert len(found) == 1, f"expected one section [{name}]{' type=' + type_ if type_ else ''}, found {len(found)}"
    return found[0]


def split_args(args: str) -> list[str]:
    """Split application arguments on top-level commas (not inside ${...} or (...))."""
    parts, depth, cur = [], 0, []
    for ch in args:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


# --- dialplan model ------------------------------------------------------------------------------

@dataclass
class Step:
    context: str
    exten: str
    app: str
    args: str


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern) + r"\Z")
    out, body, i = [], pattern[1:], 0
    while i < len(body):
        ch = body[i]
        if ch == "[":
            end = body.index("]", i)
            out.append("[" + body[i + 1:end] + "]")
            i = end + 1
            continue
        out.append({"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(ch.upper(), re.escape(ch)))
        i += 1
    return re.compile("".join(out) + r"\Z")


def expand_pattern(pattern: str) -> list[str]:
    """Every number a finite pattern matches (`_100Z` -> 1001..1009)."""
    if not pattern.startswith("_"):
        return [pattern]
    assert "." not in pattern and "!" not in pattern, f"open-ended pattern {pattern}"
    choices, body, i = [], pattern[1:], 0
    while i < len(body):
        ch = body[i]
        if ch == "[":
            end = body.index("]", i)
            spec, chars = body[i + 1:end], []
            j = 0
            while j < len(spec):
                if j + 2 < len(spec) and spec[j + 1] == "-":
                    chars += [chr(c) for c in range(ord(spec[j]), ord(spec[j + 2]) + 1)]
                    j += 3
                else:
                    chars.append(spec[j])
                    j += 1
            choices.append(chars)
            i = end + 1
            continue
        choices.append({"X": list("0123456789"), "Z": list("123456789"), "N": list("23456789")}.get(ch.upper(), [ch]))
        i += 1
    return ["".join(p) for p in itertools.product(*choices)]


class Dialplan:
    def __init__(self, sections: list[Section]) -> None:
        self.globals = {k: v for s in sections if s.name == "globals" for k, v in s.items}
        self.contexts: dict[str, list[str]] = {}  # context -> extension names/patterns
        self.includes: dict[str, list[str]] = {}
        self.steps: list[Step] = []
        for s in sections:
            if s.name in ("general", "globals"):
                continue
            assert s.name not in self.contexts, f"context [{s.name}] defined twice"
            self.contexts[s.name] = []
            self.includes[s.name] = []
            exten = None
            for key, value in s.items:
                if key == "include":
                    self.includes[s.name].append(value)
                    continue
                if key == "exten":
                    name, _, rest = value.partition(",")
                    exten = name.strip()
                    _prio, _, app = rest.partition(",")
                    self.contexts[s.name].append(exten)
                elif key == "same":
                    assert exten is not None, f"[{s.name}] 'same' before any 'exten'"
                    _prio, _, app = value.partition(",")
                else:
                    continue
                m = re.match(r"\s*(\w+)\((.*)\)\s*$", app)
                if m:
                    self.steps.append(Step(s.name, exten, m.group(1), m.group(2)))
                elif app.strip():
                    self.steps.append(Step(s.name, exten, app.strip(), ""))

    def has_exten(self, context: str, exten: str, seen: frozenset[str] = frozenset()) -> bool:
        if context not in self.contexts or context in seen:
            return False
        if any(_pattern_regex(p).match(exten) for p in self.contexts[context]):
            return True
        return any(self.has_exten(inc, exten, seen | {context}) for inc in self.includes[context])

    def resolve(self, text: str, exten: str) -> str:
        text = text.replace("${EXTEN}", exten)
        return re.sub(r"\$\{(\w+)\}", lambda m: self.globals.get(m.group(1), m.group(0)), text)

    def branch_targets(self) -> list[tuple[Step, str, str, str]]:
        """(step, context, extension, concrete caller extension) for every Goto/Gosub."""
        out = []
        for step in self.steps:
            if step.app not in ("Goto", "Gosub"):
                continue
            args = split_args(step.args)
            if len(args) == 3:
                ctx, ext = args[0], args[1]
            elif len(args) == 2:
                ctx, ext = step.context, args[0]
            else:
                raise AssertionError(f"[{step.context}] {step.app}({step.args}): use context,exten,priority")
            for caller in expand_pattern(step.exten) if "." not in step.exten else [step.exten]:
                out.append((step, self.resolve(ctx, caller), self.resolve(ext, caller), caller))
        return out


def endpoints(pjsip: list[Section]) -> dict[str, Section]:
    return {s.name: s for s in concrete(pjsip) if s.get("type") == "endpoint"}


# --- AMI permissions (ami.md §2) -----------------------------------------------------------------

# Action -> classes of which the user needs at least one (empty: no class needed).
AMI_ACTION_CLASSES: dict[str, set[str]] = {
    "Originate": {"originate"},  # AudioSocket channel running ChanSpy: no "system" needed
    "Redirect": {"call"},
    "BlindTransfer": {"call"},
    "Atxfer": {"call"},
    "CancelAtxfer": {"call"},
    "Setvar": {"call"},
    "Getvar": {"call", "reporting"},
    "Hangup": {"system", "call"},
    "CoreShowChannels": {"system", "reporting"},
    "Ping": set(),
}
# Event classes the gateway consumes: channel/bridge/transfer events, VarSet, Queue*/Agent*, FullyBooted.
AMI_READ_CLASSES = {"call", "dialplan", "agent", "system"}


def _classes(value: str | None) -> set[str]:
    return {c.strip().lower() for c in (value or "").split(",") if c.strip()}


def missing_write_permissions(manager: list[Section], user: str = "hotline") -> list[str]:
    write = _classes(one(manager, user).get("write"))
    if "all" in write:
        return []
    return [action for action, need in AMI_ACTION_CLASSES.items() if need and not need & write]


# --- tests ---------------------------------------------------------------------------------------

def _asterisklint(*args: str) -> subprocess.CompletedProcess[str]:
    """asterisklint from the test interpreter's environment (its console script sits next to
    sys.executable in a venv; otherwise run its entry point with this interpreter)."""
    script = Path(sys.executable).with_name("asterisklint")
    cmd = [str(script)] if script.is_file() else [
        sys.executable, "-c", "import os, sys; from asterisklint.main import main; sys.exit(main(sys.argv[1:], os.environ))"]
    env = {k: v for k, v in os.environ.items() if k != "ALINT_IGNORE"}  # nothing suppressed
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


_LINT_ISSUE = re.compile(r"^\S+:\d+ [A-Z]_[A-Z0-9_]+: ", re.M)


def test_dialplan_is_lint_clean() -> None:
    result = _asterisklint("dialplan-check", str(CONF / "extensions.conf"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not _LINT_ISSUE.findall(output), output
    assert "Traceback" not in output, output


def test_lint_check_sees_a_broken_dialplan(tmp_path: Path) -> None:
    broken = (CONF / "extensions.conf").read_text(encoding="utf-8").replace(
        "Queue(hotline,t,,,${HOTLINE_MAX_WAIT})", "Queue(hotline,t,,,${HOTLINE_MAX_WAIT}", 1)
    (tmp_path / "extensions.conf").write_text(broken, encoding="utf-8")
    result = _asterisklint("dialplan-check", str(tmp_path / "extensions.conf"))
    assert result.returncode != 0 and _LINT_ISSUE.search(result.stdout + result.stderr)


def test_manager_general_settings() -> None:
    general = one(read_conf("manager.conf"), "general")
    assert general.get("enabled") == "yes"
    assert general.get("port", "5038") == "5038"
    assert general.get("timestampevents") == "yes"
    assert "HOTLINE_TICKET" in [v.strip() for v in (general.get("channelvars") or "").split(",")]
    assert general.get("allowmultiplelogin") == "no"
    assert general.get("bindaddr") not in (None, "0.0.0.0", "::"), "AMI must be bound to a private address"
    assert general.get("webenabled", "no") == "no"


def test_manager_user_is_locked_down() -> None:
    user = one(read_conf("manager.conf"), "hotline")
    assert (user.get("secret") or "").startswith("CHANGE_ME"), "only a placeholder secret belongs in git"
    assert user.all("deny")[:1] == ["0.0.0.0/0.0.0.0"] and user.all("permit"), "deny all, then permit the gateway"
    assert 0 < int(user.get("writetimeout") or "100") <= 1000
    # least privilege: nothing that reloads, runs shell commands or edits config
    assert not _classes(user.get("write")) & {"all", "system", "command", "config", "agi"}


def test_manager_user_may_send_every_gateway_action() -> None:
    manager = read_conf("manager.conf")
    assert missing_write_permissions(manager) == []
    assert AMI_READ_CLASSES <= _classes(one(manager, "hotline").get("read"))


@pytest.mark.parametrize("drop,action", [("originate", "Originate"), ("call", "BlindTransfer"), ("reporting", "CoreShowChannels")])
def test_permission_check_fails_without_a_needed_class(drop: str, action: str) -> None:
    text = (CONF / "manager.conf").read_text(encoding="utf-8")
    write_line = next(line for line in text.splitlines() if re.match(r"write\s*=", line))
    classes = [c for c in _classes(write_line.partition("=")[2]) if c != drop]
    broken = parse_conf(text.replace(write_line, "write = " + ",".join(classes)))
    assert action in missing_write_permissions(broken)


def test_manager_permit_covers_the_compose_network() -> None:
    import ipaddress

    manager = read_conf("manager.conf")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    asterisk_ip = ipaddress.ip_address(compose["services"]["asterisk"]["networks"]["default"]["ipv4_address"])
    assert str(asterisk_ip) == one(manager, "general").get("bindaddr")
    permits = [ipaddress.ip_network(p, strict=False) for p in one(manager, "hotline").all("permit")]
    assert any(subnet.subnet_of(p) for p in permits), "the gateway's compose network must be permitted"
    gateway_env = compose["services"]["gateway"]["environment"]
    assert gateway_env["HOTLINE_AMI_HOST"] == "asterisk"
    assert str(asterisk_ip) in gateway_env["HOTLINE_AUDIOSOCKET_ALLOW"].split(",")


def test_compose_asterisk_service() -> None:
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["asterisk"]
    assert "./deploy/asterisk:/etc/asterisk:ro" in service["volumes"]
    ports = [str(p) for p in service["ports"]]
    assert "127.0.0.1:5038:5038" in ports, "AMI only on the host's loopback"
    assert not any(p.endswith(":9092") or p == "9092" for p in ports)


def test_every_dialplan_target_exists() -> None:
    plan = Dialplan(read_conf("extensions.conf"))
    problems = []
    for step, ctx, ext, caller in plan.branch_targets():
        if ctx not in plan.contexts:
            problems.append(f"[{step.context}] {caller}: {step.app} to missing context {ctx!r}")
        elif not plan.has_exten(ctx, ext):
            problems.append(f"[{step.context}] {caller}: {step.app} to missing extension {ext!r} in [{ctx}]")
    for ctx, incs in plan.includes.items():
        problems += [f"[{ctx}] includes missing context {inc!r}" for inc in incs if inc not in plan.contexts]
    assert problems == []


def test_dial_targets_are_configured_endpoints() -> None:
    plan = Dialplan(read_conf("extensions.conf"))
    eps = endpoints(read_conf("pjsip.conf"))
    dials = [s for s in plan.steps if s.app == "Dial"]
    assert dials
    for step in dials:
        for tech in split_args(step.args)[0].split("&"):
            target = plan.resolve(tech, step.exten)
            if target.startswith("Local/"):
                ctx = target.partition("@")[2].split("/")[0]
                assert ctx in plan.contexts, f"[{step.context}] Dial to missing context {ctx!r}"
            elif "@" in target:  # PJSIP/<number>@<endpoint>
                assert target.partition("@")[2] in eps, f"[{step.context}] Dial through unknown endpoint: {target}"
    # dial-agent is only called with agent numbers: each one must be an endpoint
    agents = [(caller, ext) for step, ctx, ext, caller in plan.branch_targets() if ctx == "dial-agent"]
    assert agents
    for caller, _ in agents:
        assert caller in eps, f"agent extension {caller} has no PJSIP endpoint"


def test_transfer_context_reaches_agents_and_partners_only() -> None:
    plan = Dialplan(read_conf("extensions.conf"))
    for number in ("1001", "1010", "tianjin", "hebei", "02212345", "031112345", "033512345", "hotline"):
        assert plan.has_exten("transfer", number), number
    for number in ("13812345678", "01065123456", "110", "00861065123456", "02223456789"):
        assert not plan.has_exten("transfer", number), f"transfer context must not reach {number}"
        assert not plan.has_exten("agents", number), f"agents must not dial {number}"


def test_inbound_did_reaches_the_queue() -> None:
    plan = Dialplan(read_conf("extensions.conf"))
    assert plan.has_exten("from-pstn", "12345")
    hotline = [s for s in plan.steps if s.context == "hotline"]
    apps = [s.app for s in hotline]
    assert apps.index("Answer") < apps.index("Playback") < apps.index("Queue")
    assert any(s.app == "Set" and s.args == "CHANNEL(language)=zh" for s in hotline)
    queue_args = split_args(next(s for s in hotline if s.app == "Queue").args)
    assert queue_args[0] == "hotline" and "t" in queue_args[1] and "T" not in queue_args[1]
    assert len(queue_args) >= 5 and plan.resolve(queue_args[4], "s").isdigit(), "the queue needs a max wait"
    assert apps[apps.index("Queue") + 1] == "Goto"  # then the callback fallback


def test_pjsip_endpoint_contexts_exist_and_media_stays_in_asterisk() -> None:
    plan = Dialplan(read_conf("extensions.conf"))
    pjsip = read_conf("pjsip.conf")
    eps = endpoints(pjsip)
    assert {"pstn-trunk", "1001", "1002", "1003"} <= set(eps)
    transports = {s.name for s in concrete(pjsip) if s.get("type") == "transport"}
    for name, ep in eps.items():
        assert ep.get("context") in plan.contexts, f"endpoint {name}: context {ep.get('context')!r} missing"
        assert ep.get("transport") in transports
        assert ep.get("direct_media") == "no", f"endpoint {name}: ChanSpy only hears media through Asterisk"
        assert [c.strip() for c in (ep.get("allow") or "").split(",")] == ["alaw", "ulaw"]
        assert ep.get("disallow") == "all"
    for name in set(eps) - {"pstn-trunk"}:
        ep = eps[name]
        assert one(pjsip, ep.get("auth") or "", "auth").get("password", "").startswith("CHANGE_ME")
        assert one(pjsip, ep.get("aors") or "", "aor")
    assert one(pjsip, "pstn-trunk", "identify").all("match")
    assert one(pjsip, "pstn-trunk", "registration").get("outbound_auth") == "pstn-trunk"
    assert one(pjsip, "pstn-trunk", "auth").get("password", "").startswith("CHANGE_ME")


def test_queue_members_are_pjsip_endpoints() -> None:
    queues = read_conf("queues.conf")
    eps = endpoints(read_conf("pjsip.conf"))
    hotline = one(queues, "hotline")
    members = [split_args(m)[0] for m in hotline.all("member")]
    assert members
    for member in members:
        tech, _, name = member.partition("/")
        assert tech == "PJSIP" and name in eps, f"queue member {member} has no PJSIP endpoint"
    assert hotline.get("joinempty") and hotline.get("announce-position") == "yes"
    assert hotline.get("ringinuse") == "no"
    # removed in Asterisk 12 (UPGRADE-12.txt: AgentCalled etc. are always sent since); not valid in 20
    assert not {"eventwhencalled", "eventmemberstatus"} & {k for s in queues for k, _ in s.items}
    # the queue the dialplan uses is this one
    plan = Dialplan(read_conf("extensions.conf"))
    assert {split_args(s.args)[0] for s in plan.steps if s.app == "Queue"} == {"hotline"}


def test_features_allow_ami_atxfer() -> None:
    featuremap = one(read_conf("features.conf"), "featuremap")
    assert featuremap.get("atxfer"), "AMI Atxfer fails with 'No attended transfer feature code found'"
    assert featuremap.get("blindxfer")
    assert featuremap.get("atxfer") != featuremap.get("blindxfer")
    pjsip = read_conf("pjsip.conf")
    for name, ep in endpoints(pjsip).items():
        if ep.get("context") == "agents":
            assert "TRANSFER_CONTEXT=transfer" in ep.all("set_var"), name


def test_audiosocket_modules_are_required() -> None:
    modules = one(read_conf("modules.conf"), "modules")
    required = set(modules.all("require"))
    assert {"res_audiosocket.so", "chan_audiosocket.so", "app_chanspy.so", "res_timing_timerfd.so"} <= required
    assert "chan_sip.so" in modules.all("noload")


def test_parser_sees_templates_and_shared_names() -> None:
    sections = parse_conf("[t](!)\ntype = endpoint\nallow = alaw\n[a](t)\nallow = ulaw ; x\n[a]\ntype = aor\nk => v\\;w\n")
    a_endpoint = one(sections, "a", "endpoint")
    assert a_endpoint.all("allow") == ["alaw", "ulaw"]
    assert one(sections, "a", "aor").get("k") == "v;w"
    assert expand_pattern("_100Z") == [f"100{d}" for d in range(1, 10)]
    assert _pattern_regex("_031X12345").match("031512345") and not _pattern_regex("_031X12345").match("03112345")


def test_compose_speech_service_scales() -> None:
    """`docker compose up --scale speech=N`: no fixed name or host port that two replicas would
    fight over, each advertising its own address, reachable only from Asterisk."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["speech"]
    asterisk_ip = compose["services"]["asterisk"]["networks"]["default"]["ipv4_address"]
    assert service["command"] == ["hotline", "speech-node"]
    assert "container_name" not in service and "ports" not in service
    env = service["environment"]
    assert env["HOTLINE_AUDIOSOCKET_ADVERTISE"] == "auto"
    assert env["HOTLINE_AUDIOSOCKET_LISTEN"].startswith("0.0.0.0:")
    assert env["HOTLINE_AUDIOSOCKET_ALLOW"].split(",") == [asterisk_ip]
    assert env["REDIS_URL"] == compose["services"]["gateway"]["environment"]["REDIS_URL"]
