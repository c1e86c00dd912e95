module example.com/hello-world

go 1.19
