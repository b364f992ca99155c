using System.Diagnostics;

namespace Presence.Simulator;

/// <summary>Generates the workload once and replays it for every strategy, with big rooms shared and excluded.</summary>
internal static class Simulation
{
    // The engines run first in each variant: their memory is measured as heap growth, which the baselines' leftovers blur.
    public static readonly string[] AllStrategies = ["engine", "naive", "synapse", "dendrite"];

    public static readonly string[] KnownStrategies = [.. AllStrategies, "engine-transport", "engine-sync35"];

    public static async Task<List<Result>> RunAsync(WorkloadOptions options, IReadOnlyList<string> strategies, bool withBigRooms, bool withBigRoomsExcluded, TextWriter? log = null)
    {
        var world = World.Generate(options);
        var reference = Reference.Build(world);
        log?.WriteLine($"workload: {world.Servers.Length} servers, {world.Users.Length} users ({world.Humans} humans), {world.Members.Length} rooms, {world.Lists.Length} list entries, {world.Trace.Length} client events, {reference.All.Length} reference changes");
        var results = new List<Result>();
        foreach (bool excluded in new[] { false, true })
        {
            if ((excluded && !withBigRoomsExcluded) || (!excluded && !withBigRooms))
            {
                continue;
            }

            var excludedRooms = excluded ? world.RoomIds.Where((_, r) => world.IsBig[r]).ToHashSet() : [];
            var interest = world.Interest(excludedRooms);
            foreach (string name in strategies)
            {
                var watch = Stopwatch.StartNew();
                Strategy strategy = name switch
                {
                    "naive" => new NaiveStrategy(),
                    "synapse" => new SynapseStrategy(),
                    "dendrite" => new DendriteStrategy(),
                    "engine" => new EngineStrategy(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero), ride: true),
                    "engine-sync35" => new EngineStrategy(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero), ride: true, TimeSpan.FromSeconds(35)),
                    "engine-transport" => new EngineStrategy(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero), ride: false),
                    _ => throw new ArgumentException($"Unknown strategy '{name}'; use {string.Join(", ", KnownStrategies)}."),
                };
                var run = new Run(world, reference, interest, strategy, excluded, excludedRooms);
                results.Add(await run.ExecuteAsync().ConfigureAwait(false));
                log?.WriteLine($"  {(excluded ? "big rooms excluded" : "big rooms shared")}, {strategy.Name}: {watch.Elapsed.TotalSeconds:F1} s {strategy.Diagnostics}");
            }
        }

        return results;
    }
}
