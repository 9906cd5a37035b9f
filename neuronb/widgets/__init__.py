"""ipywidgets explorers for live work in JupyterLab, and the plotly figures that carry the same exploration
into the offline HTML reports. Written by hand; import explorers from their modules (`neuronb.widgets.critical`)."""
