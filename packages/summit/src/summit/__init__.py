"""summit: build a recipe repository in dependency order on Dask, publish it for moss."""
