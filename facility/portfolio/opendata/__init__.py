"""The open data: every awarded grant as 360Giving 1.4.3 JSON, IATI 2.03 XML, CSV and XLSX.

Public, no sign-in, generated live from the database on each request (cached by ETag). What is
published is decided once, in `source` (the facts of a grant); each format only writes those facts
(`threesixty`, `iati`, `tables`). Privacy rule: no bank details, no reviewer names or scores, nothing
from a draft, no personal contact data — `source` reads none of those columns.

Every export walks the grants in id order in batches (keyset pagination), writes as it goes and
keeps at most one batch in memory, so 100,000 grants leave the server with bounded memory.
"""
