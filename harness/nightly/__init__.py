"""The nightly loop: harvest → mine → propose → replay → gate → stage → adopt, and watch.

One night of one project is a row in the ``nights`` table (``records.py``); each stage's
output is a row in ``night_stages`` so a killed night resumes where it stopped.
"""
