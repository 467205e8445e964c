"""Deploy seccomp profiles to Kubernetes nodes and clusters.

A profile reaches a pod in one of two ways:

* As a file on every node, under the kubelet's seccomp directory
  (:data:`KUBELET_SECCOMP_ROOT`, ``/var/lib/kubelet/seccomp`` by default).
  The pod names it with ``securityContext.seccompProfile`` of type
  ``Localhost`` and a ``localhostProfile`` relative to that directory.
  The kubelet passes the path to the container runtime, which reads the
  file.  :func:`runtime_profile` checks a profile for this use,
  :func:`write_localhost_profile` installs it and :func:`security_context`
  builds the pod's field.
* As a ``SeccompProfile`` resource of the Security Profiles Operator
  (API ``security-profiles-operator.x-k8s.io/v1beta1``), which writes the
  file on every node for you, as ``operator/<namespace>/<name>.json``
  under the same directory.  :func:`spo_resource` builds the resource and
  :func:`to_yaml` writes it for ``kubectl apply -f``.

Both take a :class:`seccompx.Filter` (through
:meth:`~seccompx.Filter.to_profile`) or an OCI profile mapping, such as
the one ``seccompx trace`` writes.  A profile is rejected, with
:class:`seccompx.ProfileError` naming the JSON path, when a runtime or the
operator would read it differently from seccompx: Docker's ``archMap``,
``includes`` and ``excludes`` (containerd's reader ignores them, so every
entry would apply), seccompx's ``@group`` names, and values the
operator's resource cannot hold.
"""

from __future__ import annotations

import json
import os
import re
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Union,
)

from ._errors import InvalidArgumentError, ProfileError
from ._files import replace_file
from ._types import Arch

if TYPE_CHECKING:
    from ._filter import Filter

__all__ = [
    "KUBELET_SECCOMP_ROOT",
    "SPO_API_VERSION",
    "SPO_KIND",
    "SPO_PROFILE_DIRECTORY",
    "localhost_path",
    "resource_name",
    "runtime_profile",
    "security_context",
    "spo_localhost_profile",
    "spo_resource",
    "to_yaml",
    "write_localhost_profile",
]

ProfileLike = Union["Filter", Mapping[str, Any]]

KUBELET_SECCOMP_ROOT = "/var/lib/kubelet/seccomp"
"""The kubelet's seccomp directory, below its default root directory
/var/lib/kubelet; the kubelet's ``--root-dir`` option moves it."""

SPO_API_VERSION = "security-profiles-operator.x-k8s.io/v1beta1"
"""The ``apiVersion`` of the resources :func:`spo_resource` builds."""

SPO_KIND = "SeccompProfile"
"""The ``kind`` of the resources :func:`spo_resource` builds."""

SPO_PROFILE_DIRECTORY = "operator"
"""Directory of the operator's profiles, relative to KUBELET_SECCOMP_ROOT."""

_ACTIONS = frozenset(
    {
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    }
)
_ACTIONS_WITH_ERRNO = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})
_OPERATORS = frozenset(
    {
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    }
)
_FLAGS = frozenset(
    {
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    }
)
# The architectures the SeccompProfile resource accepts (the enumeration
# of its CRD).  LoongArch, M68K and SuperH are missing from it.
_SPO_ARCHES = frozenset(
    {
        "SCMP_ARCH_NATIVE",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_RISCV64",
    }
)
# Every architecture name of the OCI format that libseccomp defines.
_ARCHES = frozenset("SCMP_ARCH_" + arch.name for arch in Arch)
_PROFILE_KEYS = (
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
)
_ENTRY_KEYS = ("names", "action", "errnoRet", "args")
_ARG_KEYS = ("index", "value", "valueTwo", "op")
# Docker's extensions of the OCI format, which runtimes do not all read.
_DOCKER_KEYS = frozenset({"archMap", "name", "includes", "excludes"})
# The runtimes' errno when errnoRet or defaultErrnoRet is absent.
_EPERM = 1
# The CRD declares argument values as int64 with minimum 0.
_SPO_VALUE_MAX = 2**63 - 1
_MAX_ARGS = 6
_U64_MAX = 2**64 - 1

# Object names (RFC 1123 subdomain) and namespaces (RFC 1123 label).
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NAME_MAX = 253
_LABEL_MAX = 63


# Paths and pod fields -------------------------------------------------------


def localhost_path(localhost_profile: str, root: str = KUBELET_SECCOMP_ROOT) -> str:
    """Return the node file that ``localhostProfile: <localhost_profile>`` names.

    ``localhost_profile`` must be a relative path that stays below
    ``root``, as the kubelet requires; otherwise InvalidArgumentError.
    """
    _check_localhost_profile(localhost_profile)
    return os.path.join(root, localhost_profile)


def security_context(localhost_profile: str) -> Dict[str, Any]:
    """Return the ``securityContext`` fragment that selects a node profile.

    The result goes into a pod's or a container's ``securityContext``:
    ``{"seccompProfile": {"type": "Localhost", "localhostProfile": ...}}``.
    """
    _check_localhost_profile(localhost_profile)
    return {
        "seccompProfile": {
            "type": "Localhost",
            "localhostProfile": localhost_profile,
        }
    }


def spo_localhost_profile(name: str, namespace: str) -> str:
    """Return the ``localhostProfile`` of a SeccompProfile the operator installed.

    The operator writes the resource ``name`` of ``namespace`` to
    ``operator/<namespace>/<name>.json`` below the kubelet's seccomp
    directory, adding ``.json`` unless the name ends with it.
    """
    _check_name(name)
    _check_namespace(namespace)
    file_name = name if name.endswith(".json") else name + ".json"
    return f"{SPO_PROFILE_DIRECTORY}/{namespace}/{file_name}"


def resource_name(text: str) -> str:
    """Derive a valid resource name from ``text``, such as a file name.

    The directory and a ``.json`` suffix are dropped, letters are
    lowercased and every run of other characters than ``a-z``, ``0-9``,
    ``-`` and ``.`` becomes ``-``: ``"profiles/My_App.json"`` gives
    ``"my-app"``.  Raises InvalidArgumentError when nothing usable is left.
    """
    base = os.path.basename(text)
    if base.lower().endswith(".json"):
        base = base[: -len(".json")]
    # Each dot-separated label must start and end with a letter or digit.
    labels = re.sub(r"[^a-z0-9.-]+", "-", base.lower()).split(".")
    candidate = ".".join(label.strip("-") for label in labels if label.strip("-"))
    candidate = candidate[:_NAME_MAX].rstrip("-.")
    if not candidate or not _NAME.fullmatch(candidate):
        raise InvalidArgumentError(
            f"cannot derive a Kubernetes resource name from {text!r}; give "
            "one of lowercase letters, digits, '-' and '.', such as my-app"
        )
    return candidate


def _check_localhost_profile(path: object) -> None:
    if not isinstance(path, str):
        raise TypeError(
            f"localhost_profile must be a str, not {type(path).__name__}"
        )
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgumentError(
            f"localhostProfile {path!r} is invalid: use a relative path below "
            "the kubelet's seccomp directory, such as profiles/app.json, "
            "without '..', '.' or empty parts"
        )


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if len(name) > _NAME_MAX or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"resource name {name!r} is invalid: use at most {_NAME_MAX} "
            "lowercase letters, digits, '-' and '.', starting and ending "
            "with a letter or digit (RFC 1123)"
        )


def _check_namespace(namespace: object) -> None:
    if not isinstance(namespace, str):
        raise TypeError(
            f"namespace must be a str, not {type(namespace).__name__}"
        )
    if len(namespace) > _LABEL_MAX or not _LABEL.fullmatch(namespace):
        raise InvalidArgumentError(
            f"namespace {namespace!r} is invalid: use at most {_LABEL_MAX} "
            "lowercase letters, digits and '-', starting and ending with a "
            "letter or digit (RFC 1123)"
        )


# Runtime profiles (kubelet localhost files) ---------------------------------


def runtime_profile(profile: ProfileLike) -> Dict[str, Any]:
    """Return ``profile`` as an OCI profile that every runtime reads alike.

    ``profile`` is a :class:`seccompx.Filter` or an OCI profile mapping.
    The result holds only fields of the OCI runtime specification, which
    containerd, CRI-O, runc and crun all read, in a fixed order.  A
    ``comment`` on an entry is dropped.  Raises ProfileError for Docker's
    extensions, seccompx group names, and invalid values.
    """
    return _Checker(for_spo=False).profile(_as_mapping(profile))


def write_localhost_profile(
    profile: ProfileLike,
    localhost_profile: str,
    *,
    root: str = KUBELET_SECCOMP_ROOT,
) -> str:
    """Write ``profile`` where ``localhostProfile: <localhost_profile>`` finds it.

    Checks the profile with :func:`runtime_profile`, creates the
    directories below ``root`` that are missing, and writes the JSON file
    (mode 0644) through a temporary file and a rename, so a running
    kubelet never reads half a profile.  Returns the path written.  Run it
    on every node that may start the pod, as root for the default
    ``root``.
    """
    document = runtime_profile(profile)
    path = localhost_path(localhost_profile, root)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    data = (json.dumps(document, indent=2) + "\n").encode()
    replace_file(path, data, mode=0o644)
    return path


# Security Profiles Operator resources ---------------------------------------


def spo_resource(
    profile: ProfileLike,
    name: str,
    *,
    namespace: Optional[str] = None,
    base_profile_name: Optional[str] = None,
) -> Dict[str, Any]:
    """Build a Security Profiles Operator ``SeccompProfile`` resource.

    ``profile`` is a :class:`seccompx.Filter` or an OCI profile mapping.
    ``name`` and ``namespace`` become the resource's metadata; without a
    namespace, ``kubectl`` uses its current one.  ``base_profile_name``
    names another SeccompProfile of the namespace, whose rules the
    operator adds to this one.  Pass the result to :func:`to_yaml` or
    ``json.dumps``; ``kubectl apply -f`` reads either.

    Besides what :func:`runtime_profile` rejects, raises ProfileError for
    what the resource cannot hold: ``defaultErrnoRet`` other than EPERM
    (the resource has no such field, so runtimes use EPERM), ``errnoRet``
    0 (the operator drops a zero and runtimes then use EPERM), argument
    values of 2**63 and above (the resource stores them as signed 64-bit
    numbers), and architectures outside its list (LoongArch, M68K, SuperH).
    """
    _check_name(name)
    metadata: Dict[str, Any] = {"name": name}
    if namespace is not None:
        _check_namespace(namespace)
        metadata["namespace"] = namespace
    spec = _Checker(for_spo=True).profile(_as_mapping(profile))
    if base_profile_name is not None:
        if not base_profile_name.startswith("oci://"):
            _check_name(base_profile_name)
        spec["baseProfileName"] = base_profile_name
    return {
        "apiVersion": SPO_API_VERSION,
        "kind": SPO_KIND,
        "metadata": metadata,
        "spec": spec,
    }


def _as_mapping(profile: ProfileLike) -> Mapping[str, Any]:
    if isinstance(profile, Mapping):
        return profile
    to_profile = getattr(profile, "to_profile", None)
    if to_profile is None:
        raise TypeError(
            "profile must be a seccompx.Filter or an OCI profile mapping, "
            f"not {type(profile).__name__}"
        )
    result: Mapping[str, Any] = to_profile()
    return result


class _Checker:
    """Validate an OCI profile and copy the fields a runtime reads."""

    def __init__(self, for_spo: bool) -> None:
        self.for_spo = for_spo
        self.target = "a SeccompProfile resource" if for_spo else "a runtime profile"

    def profile(self, profile: Mapping[str, Any]) -> Dict[str, Any]:
        self.check_keys(profile, _PROFILE_KEYS, "")

        default = self.action(profile.get("defaultAction"), "defaultAction")
        if default == "SCMP_ACT_NOTIFY":
            raise ProfileError(
                "SCMP_ACT_NOTIFY cannot be the default action: runc and crun "
                "reject it, because they need write(2) to pass on the listener",
                "defaultAction",
            )
        result: Dict[str, Any] = {"defaultAction": default}
        self.default_errno(profile, default, result)

        arches = profile.get("architectures")
        if arches is not None:
            result["architectures"] = self.strings(
                arches, "architectures", _SPO_ARCHES if self.for_spo else _ARCHES
            )
        flags = profile.get("flags")
        if flags is not None:
            result["flags"] = self.strings(flags, "flags", _FLAGS)
        for key in ("listenerPath", "listenerMetadata"):
            value = profile.get(key)
            if value is not None:
                result[key] = self.string(value, key)

        syscalls = profile.get("syscalls")
        if syscalls is not None:
            items = self.array(syscalls, "syscalls")
            result["syscalls"] = [
                self.entry(item, f"syscalls[{index}]")
                for index, item in enumerate(items)
            ]
        return result

    def check_keys(self, mapping: Any, allowed: Any, path: str) -> None:
        if not isinstance(mapping, Mapping):
            raise ProfileError(
                f"must be a JSON object, not {type(mapping).__name__}",
                path or "profile",
            )
        for key in mapping:
            where = f"{path}.{key}" if path else str(key)
            if key in allowed or key == "comment" or mapping[key] is None:
                continue
            if key in _DOCKER_KEYS:
                raise ProfileError(
                    f"{key} is a Docker extension that {self.target} cannot "
                    "hold (containerd ignores it); resolve it for the node "
                    "first: pass the Filter from Filter.from_profile(), or run "
                    "'seccompx convert PROFILE --to oci'",
                    where,
                )
            raise ProfileError(
                f"unknown field {key!r}; {self.target} has "
                + ", ".join(allowed),
                where,
            )

    def default_errno(
        self, profile: Mapping[str, Any], default: str, result: Dict[str, Any]
    ) -> None:
        value = profile.get("defaultErrnoRet")
        if value is None:
            return
        number = self.uint(value, "defaultErrnoRet", _U64_MAX)
        if default not in _ACTIONS_WITH_ERRNO:
            raise ProfileError(
                f"defaultErrnoRet is set but defaultAction is {default}; only "
                "SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one",
                "defaultErrnoRet",
            )
        if not self.for_spo:
            result["defaultErrnoRet"] = number
        elif number != _EPERM:
            raise ProfileError(
                f"defaultErrnoRet {number} cannot be expressed: a "
                "SeccompProfile resource has no defaultErrnoRet field, so "
                "runtimes use EPERM (1); use a default errno of EPERM, or "
                "install the profile as a kubelet localhost file",
                "defaultErrnoRet",
            )

    def entry(self, item: Any, path: str) -> Dict[str, Any]:
        self.check_keys(item, _ENTRY_KEYS, path)
        names = self.strings(item.get("names"), f"{path}.names", None)
        if not names:
            raise ProfileError("names is missing or empty", f"{path}.names")
        for index, name in enumerate(names):
            if name.startswith("@"):
                raise ProfileError(
                    f"{name!r} is a seccompx syscall group, which runtimes do "
                    "not know; pass the Filter built from the profile, whose "
                    "to_profile() lists the group's syscalls",
                    f"{path}.names[{index}]",
                )
        action = self.action(item.get("action"), f"{path}.action")
        entry: Dict[str, Any] = {"names": names, "action": action}
        errno_ret = item.get("errnoRet")
        if errno_ret is not None:
            entry["errnoRet"] = self.errno_ret(errno_ret, action, path)
        args = item.get("args")
        if args is not None:
            checked = [
                self.arg(arg, f"{path}.args[{index}]")
                for index, arg in enumerate(self.array(args, f"{path}.args"))
            ]
            if len(checked) > _MAX_ARGS and self.for_spo:
                raise ProfileError(
                    f"{len(checked)} argument conditions; a SeccompProfile "
                    f"entry holds at most {_MAX_ARGS}: split the entry",
                    f"{path}.args",
                )
            if checked:
                entry["args"] = checked
        return entry

    def errno_ret(self, value: Any, action: str, path: str) -> int:
        number = self.uint(value, f"{path}.errnoRet", _U64_MAX)
        if action not in _ACTIONS_WITH_ERRNO:
            raise ProfileError(
                f"errnoRet is set but the action is {action}; only "
                "SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one",
                f"{path}.errnoRet",
            )
        if number == 0 and self.for_spo:
            raise ProfileError(
                "errnoRet 0 cannot be expressed: the operator drops a zero "
                "errnoRet when it writes the node file, and runtimes then "
                "use EPERM (1)",
                f"{path}.errnoRet",
            )
        return number

    def arg(self, item: Any, path: str) -> Dict[str, Any]:
        self.check_keys(item, _ARG_KEYS, path)
        maximum = _SPO_VALUE_MAX if self.for_spo else _U64_MAX
        index = self.uint(item.get("index"), f"{path}.index", 5)
        op = item.get("op")
        if op not in _OPERATORS:
            raise ProfileError(
                f"unknown operator {op!r}; use one of "
                + ", ".join(sorted(_OPERATORS)),
                f"{path}.op",
            )
        result: Dict[str, Any] = {"index": index}
        for key in ("value", "valueTwo"):
            value = item.get(key)
            number = 0 if value is None else self.uint(value, f"{path}.{key}", maximum)
            if number or key == "value":
                result[key] = number
        result["op"] = op
        return result

    def action(self, value: Any, path: str) -> str:
        if value not in _ACTIONS:
            raise ProfileError(
                f"unknown or missing action {value!r}; use one of "
                + ", ".join(sorted(_ACTIONS)),
                path,
            )
        return str(value)

    def uint(self, value: Any, path: str, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(
                f"must be a non-negative integer, not {value!r}", path
            )
        if not 0 <= value <= maximum:
            reason = ""
            if self.for_spo and maximum == _SPO_VALUE_MAX:
                reason = (
                    "; a SeccompProfile resource stores argument values as "
                    "signed 64-bit numbers, so compare fewer bits (such as "
                    "Arg(i, width=32)) or install the profile as a kubelet "
                    "localhost file"
                )
            raise ProfileError(
                f"{value} is out of range 0..{maximum}{reason}", path
            )
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise ProfileError(f"must be a string, not {value!r}", path)
        return value

    def array(self, value: Any, path: str) -> List[Any]:
        if not isinstance(value, (list, tuple)):
            raise ProfileError(
                f"must be a JSON array, not {type(value).__name__}", path
            )
        return list(value)

    def strings(
        self, value: Any, path: str, allowed: Optional[FrozenSet[str]]
    ) -> List[str]:
        items = self.array(value, path)
        result = []
        for index, item in enumerate(items):
            text = self.string(item, f"{path}[{index}]")
            if allowed is not None and text not in allowed:
                raise ProfileError(
                    f"{text!r} is not accepted by {self.target}; use one of "
                    + ", ".join(sorted(allowed)),
                    f"{path}[{index}]",
                )
            result.append(text)
        return result


# YAML -----------------------------------------------------------------------

# Strings written without quotes: no YAML indicator, number or keyword.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_YAML_KEYWORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}
)


def to_yaml(document: Any) -> str:
    """Write JSON-like data (dicts, lists, str, int, bool, None) as YAML.

    The output is block-style YAML that ``kubectl`` (YAML 1.2) and PyYAML
    (YAML 1.1) read back as the same data.  A string is quoted, JSON style, unless it is
    a plain word such as ``SCMP_ACT_ALLOW`` or ``read``.  PyYAML is not
    needed.
    """
    return "\n".join(_yaml_lines(document, 0)) + "\n"


def _yaml_lines(value: Any, indent: int) -> List[str]:
    pad = " " * indent
    lines: List[str] = []
    if _is_block(value) and isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"YAML keys must be str, not {type(key).__name__}")
            if _is_block(item):
                lines.append(f"{pad}{_yaml_scalar(key)}:")
                lines.extend(_yaml_lines(item, indent + 2))
            else:
                lines.append(f"{pad}{_yaml_scalar(key)}: {_yaml_scalar(item)}")
    elif _is_block(value):
        for item in value:
            if _is_block(item):
                nested = _yaml_lines(item, indent + 2)
                # The first line of the item shares its line with the dash.
                nested[0] = f"{pad}- {nested[0][indent + 2:]}"
                lines.extend(nested)
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))
    return lines


def _is_block(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and len(value) > 0


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _YAML_KEYWORDS:
            return value
        # A JSON string is a valid YAML double-quoted scalar.
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    raise TypeError(
        f"cannot write {type(value).__name__} as YAML; use dict, list, str, "
        "int, bool or None"
    )
