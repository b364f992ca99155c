using BenchmarkDotNet.Running;
using Presence.Benchmarks;

// Memory reports (one run each, no BenchmarkDotNet):
//   --memory [--users N]         engine memory per tracked user (default 1,000,000 users)
//   --memory-rooms [--scale N]   memory with rooms and federation, at N and 2N times the base workload (default 1)
//   --eviction [--users N]       memory before and after idle users are evicted (default 200,000 users)
// Anything else goes to BenchmarkDotNet's switcher (--filter, --job, ...).
switch (args.FirstOrDefault())
{
    case "--memory":
        MemoryPerUser.Report(Option("--users", TrackedUsers.Count));
        return;
    case "--memory-rooms":
        RoomMemory.Report(Option("--scale", 1));
        return;
    case "--eviction":
        EvictionMemory.Report(Option("--users", EvictionMemory.DefaultUsers));
        return;
}

BenchmarkSwitcher.FromAssembly(typeof(HeartbeatBenchmarks).Assembly).Run(args);

int Option(string name, int defaultValue)
{
    int at = Array.IndexOf(args, name);
    if (at < 0)
    {
        return defaultValue;
    }

    if (at + 1 >= args.Length || !int.TryParse(args[at + 1], out int value) || value <= 0)
    {
        throw new ArgumentException($"{name} needs a positive number.");
    }

    return value;
}
