"""Demo data: a fictional Indian D2C brand's catalog (``skus.csv``, in the format
``ordermesh catalog import`` takes) and its opening stock (``stock.csv``).

Both files are written by ``python -m ordermesh.demo.generate`` from the product families listed
there, deterministically; ``ordermesh demo load`` (``services/demo.py``) loads them.
"""
