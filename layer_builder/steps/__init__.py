"""The four steps. Each takes the previous step's frozen result and returns its own::

    Manifest ──BuildStep──► BuildResult ──PackageStep──► PackageResult
             ──UploadStep──► UploadResult ──PublishStep──► PublishResult

``build`` installs into ``artifacts/python/``, ``package/`` zips it, ``upload`` puts the zip
on S3, ``publish/`` makes the layer version. ``base.Step`` is the contract they share.
"""
