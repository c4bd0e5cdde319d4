module example.com/api

go 1.23

require (
	github.com/jackc/pgx/v5 v5.7.1
	github.com/lib/pq v1.10.9
)
