"""``mediaserve sync``: MEDIA_ROOT to a bucket and back (see ``engine`` and ``cli``)."""
