module example.com/old

go 1.20

require github.com/jackc/pgx/v4 v4.18.3
