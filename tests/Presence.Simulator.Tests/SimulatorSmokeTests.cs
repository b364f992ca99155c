using Presence.Simulator;

namespace Presence.Simulator.Tests;

/// <summary>A tiny federation (3 servers, 30 users, 20 simulated minutes): the simulator is deterministic and its basic invariants hold.</summary>
[CancelAfter(60_000)]
public class SimulatorSmokeTests
{
    private static WorkloadOptions Tiny(bool outage) => new()
    {
        Seed = 7,
        Servers = 3,
        Users = 30,
        Duration = TimeSpan.FromMinutes(20),
        BigRooms = [0.8],
        OutageServer = outage ? 1 : -1,
        OutageStart = TimeSpan.FromMinutes(8),
        OutageLength = outage ? TimeSpan.FromMinutes(3) : TimeSpan.Zero,
        ViewSample = 10_000,
    };

    [Test]
    public async Task SameSeed_GivesSameCounts()
    {
        var first = await Simulation.RunAsync(Tiny(outage: true), Simulation.AllStrategies, withBigRooms: true, withBigRoomsExcluded: false);
        var second = await Simulation.RunAsync(Tiny(outage: true), Simulation.AllStrategies, withBigRooms: true, withBigRoomsExcluded: false);

        Assert.That(second.Select(Counts), Is.EqualTo(first.Select(Counts)));
        Assert.That(first.Sum(r => r.PresenceTransactions), Is.GreaterThan(0), "the workload makes presence traffic");
    }

    [Test]
    public async Task WithoutAnOutage_NoRemoteViewIsLost()
    {
        var results = await Simulation.RunAsync(Tiny(outage: false), ["naive", "synapse", "dendrite", "engine"], withBigRooms: true, withBigRoomsExcluded: false);

        Assert.That(results.Where(r => r.LostSamples > 0).Select(r => $"{r.Strategy}: {r.LostSamples}"), Is.Empty);
        Assert.That(results.Select(r => r.ViewSamples), Is.All.GreaterThan(0), "views were sampled");
    }

    [Test]
    public async Task NaiveSendsAtLeastAsManyPresenceTransactionsAsTheEngine()
    {
        var results = await Simulation.RunAsync(Tiny(outage: false), ["naive", "engine"], withBigRooms: true, withBigRoomsExcluded: false);
        var naive = results.Single(r => r.Strategy == "naive");
        var engine = results.Single(r => r.Strategy == "this engine");

        Assert.That(naive.PresenceTransactions, Is.GreaterThanOrEqualTo(engine.PresenceTransactions));
    }

    private static (string, long, long, long, long) Counts(Result r) => (r.Strategy, r.PresenceTransactions, r.Entries, r.Bytes, r.LostSamples);
}
