module example.com/sidecar

go 1.19
