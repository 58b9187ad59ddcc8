from tuinet.__about__ import __version__
