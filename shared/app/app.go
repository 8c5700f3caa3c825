// Package app wires what every function needs from the environment: the
// configuration, the Redis client, the mapping store and the address book.
package app

import (
	"context"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/config"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// App holds the process-wide parts. They outlive invocations: FC reuses an
// instance for many of them, and so does the Redis connection pool.
type App struct {
	Config config.Config
	Redis  redis.UniversalClient
	Store  *store.Store
	Book   egress.Book
}

// Setup reads the environment. It does not dial Redis: the first
// invocation does, so that a Redis outage turns into errors the trigger
// retries instead of a crash loop.
func Setup() (*App, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	rdb, err := cfg.Redis()
	if err != nil {
		return nil, err
	}
	book, err := egress.ParseStatic(cfg.EgressAddresses)
	if err != nil {
		return nil, err
	}
	return &App{Config: cfg, Redis: rdb, Store: store.New(rdb, cfg.MappingTTL), Book: book}, nil
}

// Must is Setup for main: a configuration error ends the process with a
// JSON log line saying what is wrong.
func Must() *App {
	a, err := Setup()
	if err != nil {
		fcenv.Logger(context.Background()).Error("configuration", slog.String("err", err.Error()))
		os.Exit(1)
	}
	return a
}
