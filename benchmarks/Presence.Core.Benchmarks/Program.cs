using BenchmarkDotNet.Running;
using Presence.Benchmarks;

if (args.Length > 0 && args[0] == "--memory")
{
    MemoryPerUser.Report();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(HeartbeatBenchmarks).Assembly).Run(args);
