"""Kubernetes names for narvik's halls, tenants and tiers.

Object names of the Kueue kinds are DNS-1123 subdomains, namespaces and most of them in
practice DNS-1123 labels (lower-case letters, digits and ``-``, starting and ending with a
letter or digit, at most 63 characters); label values are at most 63 characters of letters,
digits, ``-``, ``_`` and ``.``, starting and ending with a letter or digit
(https://kubernetes.io/docs/concepts/overview/working-with-objects/names/,
https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).

A name that is already valid is kept as it is; one that has to change (case, characters,
length) gets a short hash of the original appended, so that two names never collide after
sanitising ("A_b" and "a-b" stay apart).
"""

from __future__ import annotations

import hashlib
import re

#: The longest DNS-1123 label and label value.
MAX_LABEL = 63

DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_HASH_CHARS = 6


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def is_dns_label(name: str) -> bool:
    """Whether ``name`` is a DNS-1123 label (the rule of namespaces and queue names)."""
    return len(name) <= MAX_LABEL and bool(DNS_LABEL_RE.match(name))


def is_label_value(value: str) -> bool:
    """Whether ``value`` is a valid Kubernetes label value."""
    return len(value) <= MAX_LABEL and bool(LABEL_VALUE_RE.match(value))


def dns_label(name: str, prefix: str = "") -> str:
    """``prefix + name`` as a DNS-1123 label: kept when valid, else sanitised and hashed."""
    raw = f"{prefix}{name}"
    if is_dns_label(raw):
        return raw
    body = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    suffix = "-" + _digest(raw)
    body = body[: MAX_LABEL - len(suffix)].strip("-") or "x"
    return body + suffix


def label_value(value: str) -> str:
    """``value`` as a Kubernetes label value: kept when valid, else sanitised and hashed."""
    if is_label_value(value):
        return value
    body = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-_.")
    suffix = "-" + _digest(value)
    body = body[: MAX_LABEL - len(suffix)].strip("-_.") or "x"
    return body + suffix


def flavor_name(hall: str) -> str:
    """The ResourceFlavor of a hall: ``hall-<name>`` in lower case (hall A: ``hall-a``).

    Hall names are short letters, so lower case reads better than a hash; the exporter
    refuses a site whose halls differ only in case.
    """
    lower = f"hall-{hall.lower()}"
    return lower if is_dns_label(lower) else dns_label(hall, "hall-")


def queue_name(tenant: str) -> str:
    """The ClusterQueue and LocalQueue of a tenant: its name as a DNS-1123 label."""
    return dns_label(tenant)


def namespace_name(tenant: str) -> str:
    """The namespace of a tenant's LocalQueue: ``tenant-<name>``."""
    return dns_label(tenant, "tenant-")


def priority_class_name(tier: str) -> str:
    """The WorkloadPriorityClass of a tier: ``tier-<name>``."""
    return dns_label(tier, "tier-")
