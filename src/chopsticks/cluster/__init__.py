"""Many client hosts, one exact result: a Plan run on every host of a Dask cluster (one pinned task
per host running today's engine), streamed back once a second and merged by summing the hosts'
histograms. `distributed` is imported only from here, only when a cluster is asked for."""
