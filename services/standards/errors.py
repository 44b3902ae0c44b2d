"""Standards' named problems: raised by its services and declared by its routes (one definition
each; the kit's own are in services.common.errors)."""

from __future__ import annotations

from services.common.errors import NamedProblem

CertificateNotFound = NamedProblem(
    404,
    "certificate_not_found",
    "no certificate with this number (at this body) is on record",
    detail="no certificate numbered {number} is on record",
)
# A number several bodies hold, read by a caller who sees more than one of them without naming the
# body. The one definition of this problem: the public verification answered it too until it came
# to answer every holder (`{"items": [...]}`), with another field code (`choose_one`, one error per
# body); this one (field code `required` at ?certifier=) is the one clients and tests rely on.
AmbiguousCertificateNo = NamedProblem(
    409,
    "ambiguous_certificate_no",
    "the number is held at several bodies in your scope; pass ?certifier=",
    pointer="#/query/certifier",
    field_code="required",
    message="one of: {bodies}",
    detail="certificate {number} exists at several bodies ({bodies}); pass ?certifier=",
)
InvalidStandardCode = NamedProblem(
    422, "invalid_standard_code", "not a standard number of a known form", pointer="#/path/code"
)
StandardExists = NamedProblem(
    409,
    "standard_exists",
    "the standard is in the catalogue already",
    pointer="/code",
    detail="standard {code} is already in the catalogue",
)
LevelMismatch = NamedProblem(
    422, "level_mismatch", "the level does not match the standard number's form", pointer="/level"
)
