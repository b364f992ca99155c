using BenchmarkDotNet.Running;
using Presence.PostgreSql.Benchmarks;

// Needs a PostgreSQL server: eval "$(.ci/postgres.sh start)" exports PRESENCE_POSTGRES.
//   dotnet run -c Release --project benchmarks/Presence.Core.PostgreSql.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(WriteBehindBenchmarks).Assembly).Run(args);
