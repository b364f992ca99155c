using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// The batching path to other servers: one million changes of 100,000 users spread over 1,000 destinations, into
/// the scheduler (channel, then coalescing per destination). Baseline: the bare channel write and read of the same
/// items, the floor of this design.
/// </summary>
[MemoryDiagnoser]
public class BatchingBenchmarks
{
    public const int Users = 100_000;
    public const int Peers = 1_000;
    public const int Changes = 1_000_000;
    private PresenceSnapshot[] _snapshots = null!;
    private ServerName[] _peers = null!;
    private OutboundScheduler _scheduler = null!;
    private Channel<(ServerName, PresenceSnapshot)> _channel = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_snapshots, _peers) = Population();
        _scheduler = CreateScheduler(new FrozenTimeProvider(), new DiscardingTransport());
        _channel = Channel.CreateUnbounded<(ServerName, PresenceSnapshot)>();
    }

    internal static (PresenceSnapshot[] Snapshots, ServerName[] Peers) Population()
    {
        var snapshots = new PresenceSnapshot[Users];
        for (int i = 0; i < Users; i++)
        {
            snapshots[i] = new PresenceSnapshot(UserId.Parse($"@user{i}:example.org"), PresenceState.Online, null, null, true, DeviceKinds.Standard);
        }

        var peers = new ServerName[Peers];
        for (int i = 0; i < Peers; i++)
        {
            peers[i] = ServerName.Parse($"server{i}.example");
        }

        return (snapshots, peers);
    }

    internal static OutboundScheduler CreateScheduler(TimeProvider clock, IPresenceTransport transport)
        => new(ServerName.Parse("origin.example"), new PresenceFederationOptions(), transport, clock, new TimeBase(clock), NullLogger.Instance, new PresenceInstruments(null, () => 0, () => 0, () => 0, () => 0, () => 0), _ => { }, CancellationToken.None);

    /// <summary>Change i is user i mod 100,000 for destination i mod 1,000; the engine pumps after each publication, here every 1,024.</summary>
    internal static void Run(OutboundScheduler scheduler, PresenceSnapshot[] snapshots, ServerName[] peers)
    {
        for (int i = 0; i < Changes; i++)
        {
            scheduler.Enqueue(peers[i % Peers], snapshots[i % Users]);
            if ((i & 1023) == 1023)
            {
                scheduler.Pump();
            }
        }

        scheduler.Pump();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Changes)]
    public void ChannelOnly()
    {
        var writer = _channel.Writer;
        var reader = _channel.Reader;
        for (int i = 0; i < Changes; i++)
        {
            writer.TryWrite((_peers[i % Peers], _snapshots[i % Users]));
            if ((i & 1023) == 1023)
            {
                while (reader.TryRead(out _))
                {
                }
            }
        }

        while (reader.TryRead(out _))
        {
        }
    }

    [Benchmark(OperationsPerInvoke = Changes)]
    public void EnqueueAndCoalesce() => Run(_scheduler, _snapshots, _peers);

    private sealed class DiscardingTransport : IPresenceTransport
    {
        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
