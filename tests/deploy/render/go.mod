module kdbg-chart-render

go 1.19
