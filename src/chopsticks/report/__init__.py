"""Looking at results: the run directory, result files read back, the HTML report and its charts,
and the statistical comparison of runs. Plotting libraries are imported only when a chart is drawn."""
