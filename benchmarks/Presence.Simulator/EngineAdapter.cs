namespace Presence.Simulator;

/// <summary>
/// This engine: a real <see cref="IPresenceEngine"/> per server on one fake clock (<see cref="SteppingClock"/>), fed the client trace
/// (a sync scope held open for every 30 s long-poll, activity, explicit settings, disconnects), with every
/// transaction's arrival told to the receiver (<see cref="IPresenceEngine.NoteTraffic"/>). The only file that knows the
/// engine's federation API. Two ways to wire it:
/// <list type="bullet">
/// <item><b>riding</b> (the default): the host's per-destination queue takes what the engine owes a destination
/// (<see cref="IPresenceEngine.Outbox"/>, <see cref="IPresenceOutbox.TryTake"/>) into every transaction it builds there,
/// chat or not, and reports the outcome on the batch; a deadline send through <see cref="IPresenceTransport"/> is the
/// engine asking the host for a presence-only transaction, which joins the same queue (and takes along room events
/// queued by then).</item>
/// <item><b>own transport</b>: a host without a queue; every send through <see cref="IPresenceTransport"/> is a message
/// of its own.</item>
/// </list>
/// </summary>
internal sealed class EngineStrategy : Strategy
{
    private readonly SteppingClock _clock;
    private IPresenceEngine[] _engines = [];
    private int[] _devicesOn = [];
    private long[] _session = [];
    private IDisposable?[] _syncs = [];
    private long? _memory;
    private HashSet<int> _owners = [];
    private bool _stopping;
    private int _outstanding;
    private InMemoryMembershipView? _rooms;
    private long _heapBefore;
    private readonly Meters _meters = new();

    private readonly bool _ride;
    private Queue<(PresenceMessage Message, TaskCompletionSource Done)>[] _asked = [];

    private readonly TimeSpan? _syncTimeout;

    public EngineStrategy(DateTimeOffset epoch, bool ride, TimeSpan? syncTimeout = null)
    {
        _clock = new SteppingClock(epoch);
        _ride = ride;
        _syncTimeout = syncTimeout;
    }

    public override string Name => (_ride ? "this engine" : "this engine, own transport") + (_syncTimeout is { } t ? $", sync timeout {t.TotalSeconds:F0} s" : string.Empty);

    public bool DerivesCurrentlyActive => true;

    public override bool UsesTrace => true;

    public override long? MemoryBytes => _memory;

    public override string Diagnostics => $"sends from other threads: {OffThreadSends}, reads not completed at once: {PendingReads}, engine calls failed: {Failures}, never completed: {_outstanding}";

    public override async Task StartAsync()
    {
        var world = Run.World;
        var rooms = new InMemoryMembershipView();
        for (int r = 0; r < world.Members.Length; r++)
        {
            foreach (int m in world.Members[r])
            {
                rooms.Join(world.RoomIds[r], world.Users[m]);
            }
        }

        _rooms = rooms;
        _heapBefore = Heap(); // the host's rooms are not the engines' memory

        _engines = new IPresenceEngine[world.Servers.Length];
        for (int s = 0; s < _engines.Length; s++)
        {
            var options = new PresenceOptions { ServerName = world.Servers[s] };
            if (_syncTimeout is { } timeout)
            {
                options.SyncTimeout = timeout;
            }

            foreach (var room in Run.ExcludedRooms)
            {
                options.ExcludedRooms.Add(room);
            }

            _engines[s] = PresenceEngine.Create(options, rooms, timeProvider: _clock, meterFactory: _meters, transport: new Transport(this, s));
            await _engines[s].StartAsync().ConfigureAwait(false);
        }

        _owners = [.. world.Lists.Select(l => l.Owner)];
        _devicesOn = new int[world.Users.Length];
        _session = new long[world.Users.Length * World.DevicesPerUser];
        _syncs = new IDisposable?[world.Users.Length * World.DevicesPerUser];
        int servers = world.Servers.Length;
        _asked = new Queue<(PresenceMessage, TaskCompletionSource)>[servers * servers];
        for (int i = 0; i < _asked.Length; i++)
        {
            _asked[i] = new();
        }

        Run.DeriveActive = true; // peers that speak this protocol derive currently_active from last-active
        Run.Net.Delivered = (from, to, payload, chat) =>
        {
            if (_stopping)
            {
                return;
            }

            if (chat)
            {
                _engines[to].NoteTraffic(world.Servers[from]);
            }

            if (payload?.Tag is Ride ride)
            {
                foreach (var message in ride.Messages)
                {
                    Arrive(from, to, message);
                }

                ride.Batch?.Complete();
                foreach (var done in ride.Asked)
                {
                    done.SetResult();
                }
            }
        };
        if (_ride)
        {
            Run.Net.HasPresence = (from, to) => _asked[(from * servers) + to].Count > 0;
            Run.Net.TakePresence = Take;
            Run.Net.PresenceFailed = (_, to, payload) =>
            {
                var ride = (Ride)payload.Tag!;
                ride.Batch?.Fail();
                foreach (var done in ride.Asked)
                {
                    done.SetException(new InvalidOperationException($"{Run.World.Servers[to]} is unreachable (simulated outage)."));
                }
            };
        }
        Run.Sim.StepClock = _clock.StepTowards;

        // Presence lists: each owner asks, each target allows (through federation when they are on other servers).
        foreach (var (owner, target) in world.Lists)
        {
            var adding = _engines[world.ServerOf[owner]].AddToPresenceListAsync(world.Users[owner], world.Users[target]);
            if (!adding.IsCompleted)
            {
                Failures++; // the simulation has not started: nothing can complete it
            }
        }

        Run.Sim.At(2_000, () =>
        {
            foreach (var (owner, target) in world.Lists)
            {
                Observe(_engines[world.ServerOf[target]].AnswerPresenceRequestAsync(world.Users[target], world.Users[owner], allow: true));
            }
        });
    }

    public override void OnTrace(in TraceEvent e)
    {
        var world = Run.World;
        var engine = _engines[world.ServerOf[e.User]];
        var user = world.Users[e.User];
        string device = e.Device == 0 ? "d0" : "d1";
        int slot = (e.User * World.DevicesPerUser) + e.Device;
        switch (e.Kind)
        {
            case TraceKind.DeviceOn:
                if (e.Device == 1)
                {
                    engine.SetDeviceKind(user, device, DeviceKinds.Mobile);
                }

                _syncs[slot]?.Dispose();
                _syncs[slot] = engine.OpenSync(user, device); // the first long-poll starts
                if (_devicesOn[e.User]++ == 0 && _owners.Contains(e.User))
                {
                    engine.StartPolling(user);
                }

                long session = ++_session[slot];
                SchedulePoll(e.User, e.Device, session, e.T);
                break;
            case TraceKind.DeviceGone:
            case TraceKind.Logout:
                _session[slot]++; // ends the poll chain
                _syncs[slot]?.Dispose(); // the last long-poll ends; no other follows
                _syncs[slot] = null;
                if (e.Kind == TraceKind.Logout)
                {
                    engine.Disconnect(user, device);
                }

                if (--_devicesOn[e.User] == 0 && _owners.Contains(e.User))
                {
                    engine.StopPolling(user);
                }

                break;
            case TraceKind.Chat:
                engine.ReportActivity(user, device);
                break;
            case TraceKind.SetStatus:
                engine.SetPresence(user, device, e.SetState, world.StatusTexts[e.SetStatusId]);
                break;
        }
    }

    public override (PresenceState State, int Status) ReadView(int server, int user)
    {
        var id = Run.World.Users[user];
        var pending = _engines[server].GetPresenceAsync(id, id);
        if (!pending.IsCompletedSuccessfully)
        {
            PendingReads++;
            return (PresenceState.Unknown, 0);
        }

        var read = pending.Result;
        return read.IsAllowed ? (read.Presence.State, Run.StatusId(read.Presence.StatusMessage)) : (PresenceState.Unknown, 0);
    }

    public override ValueTask DisposeAsync()
    {
        // The engines' memory: the heap grown over the run, less what the simulation itself recorded meanwhile. Then they
        // are dropped, not disposed (disposal drains, and its work would be counted), with their meters.
        long after = Heap();
        long grown = after - _heapBefore - Run.RecordedBytes;
        if (Run.Debug)
        {
            Console.WriteLine($"heap before {_heapBefore:N0}, after {after:N0}, records {Run.RecordedBytes:N0}");
        }

        _memory = grown > 0 ? grown : null; // below what the estimate of the run's own records can resolve
        var probe = new WeakReference(_engines[0]);
        _stopping = true;
        _engines = [];
        _asked = [];
        _syncs = [];
        _clock.Clear();
        Run.Sim.Clear();
        Run.Net.Delivered = null;
        Run.Net.TakePresence = null;
        Run.Net.HasPresence = null;
        Run.Net.PresenceFailed = null;
        Run.Sim.StepClock = null;
        _meters.Dispose(); // a meter stays in a process-wide list, with its gauges' callbacks, until disposed
        if (Run.Debug)
        {
            Heap();
            Console.WriteLine($"engines collected after the run: {!probe.IsAlive}");
        }

        GC.KeepAlive(_rooms);
        return ValueTask.CompletedTask;
    }

    /// <summary>Gets the number of reads that did not complete at once (counted as unknown rather than waited for).</summary>
    public int PendingReads { get; private set; }

    /// <summary>Gets the number of sends the engines made from another thread than the simulation's.</summary>
    public int OffThreadSends { get; set; }

    /// <summary>Gets the number of engine calls that failed (they must not).</summary>
    public int Failures { get; private set; }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private void Observe(ValueTask task)
    {
        if (task.IsCompletedSuccessfully)
        {
            return;
        }

        // Counted until it completes; nothing keeps the task (it would keep its engine alive for the memory figure).
        _outstanding++;
        task.AsTask().ContinueWith(
            static (t, state) =>
            {
                var self = (EngineStrategy)state!;
                self._outstanding--;
                if (!t.IsCompletedSuccessfully)
                {
                    self.Failures++;
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void SchedulePoll(int user, int device, long session, long start)
    {
        long end = start + (long)Run.World.Options.PollLength.TotalMilliseconds;
        Run.Sim.At(end, () =>
        {
            int slot = (user * World.DevicesPerUser) + device;
            if (_session[slot] != session || _stopping)
            {
                return;
            }

            // The end of one long-poll and the start of the next: the host closes one sync scope and opens the next.
            var engine = _engines[Run.World.ServerOf[user]];
            _syncs[slot]?.Dispose();
            _syncs[slot] = engine.OpenSync(Run.World.Users[user], device == 0 ? "d0" : "d1");
            SchedulePoll(user, device, session, end);
        });
    }

    private PresencePayload? Take(int from, int to)
    {
        var asked = _asked[(from * Run.World.Servers.Length) + to];
        var messages = new List<PresenceMessage>();
        var dones = new List<TaskCompletionSource>();
        while (asked.TryDequeue(out var next))
        {
            messages.Add(next.Message);
            dones.Add(next.Done);
        }

        var batch = _stopping ? null : _engines[from].Outbox.TryTake(Run.World.Servers[to]);
        if (batch is not null)
        {
            messages.AddRange(batch.Messages);
        }

        if (Run.Debug && from == 0 && to == 2 && Run.Sim.Now < 300_000)
        {
            Console.WriteLine($"take 0->2 t={Run.Sim.Now / 1000.0:F1}: asked {dones.Count}, batch {(batch is null ? "none" : batch.Messages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))}, pushes {messages.Sum(m => m.Push.Count)}");
        }

        if (messages.Count == 0)
        {
            batch?.Dispose();
            return null;
        }

        return Payload(from, messages, new Ride(messages, batch, dones));
    }

    /// <summary>Sizes what rides with the codec the host would write it with (one EDU's content into its own JSON).</summary>
    private PresencePayload Payload(int from, List<PresenceMessage> messages, object tag)
    {
        var payload = new PresencePayload { Tag = tag, EntryCount = messages.Sum(m => m.EntryCount) };
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var message in messages)
            {
                payload.Edus += MatrixPresenceCodec.WriteEdus(writer, message, Run.Wall(Run.Sim.Now));
                payload.Entries.AddRange(message.Push);
            }

            writer.WriteEndArray();
        }

        payload.Bytes = buffer.WrittenCount;
        return payload;
    }

    private void Arrive(int from, int to, PresenceMessage message)
    {
        foreach (var snapshot in message.Push)
        {
            Run.Received(to, snapshot);
        }

        Observe(_engines[to].ReceiveAsync(Run.World.Servers[from], message, CancellationToken.None));
    }

    /// <summary>The engines' meters, so they can be let go of at the end (an undisposed meter keeps its engine alive).</summary>
    private sealed class Meters : System.Diagnostics.Metrics.IMeterFactory
    {
        private readonly List<System.Diagnostics.Metrics.Meter> _created = [];

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options);
            _created.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _created)
            {
                meter.Dispose();
            }

            _created.Clear();
        }
    }

    private sealed record Ride(List<PresenceMessage> Messages, PresenceOutboxBatch? Batch, List<TaskCompletionSource> Asked);

    private sealed class Transport(EngineStrategy owner, int from) : IPresenceTransport
    {
        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            var run = owner.Run;
            int to = run.ServerIndex[destination];
            var done = new TaskCompletionSource(); // completes on the simulation's thread, inline
            if (Environment.CurrentManagedThreadId != run.Sim.Thread)
            {
                // An engine continuation on the thread pool: hand the send to the simulation's thread, at the engines' clock.
                owner.OffThreadSends++;
                run.Sim.At(owner._clock.NowMs, () => Start(run, to, destination, message, done));
                return new ValueTask(done.Task);
            }

            Start(run, to, destination, message, done);
            return new ValueTask(done.Task);
        }

        private void Start(Run run, int to, ServerName destination, PresenceMessage message, TaskCompletionSource done)
        {
            if (owner._ride)
            {
                // The engine asks for a presence-only transaction: it joins the host's queue to that destination.
                owner._asked[(from * run.World.Servers.Length) + to].Enqueue((message, done));
                run.Net.Wake(from, to);
                return;
            }

            var payload = owner.Payload(from, [message], new Ride([message], null, [done]));
            run.Net.SendDirect(from, to, payload, ok =>
            {
                if (!ok)
                {
                    done.SetException(new InvalidOperationException($"{destination} is unreachable (simulated outage)."));
                }
            });
        }
    }
}
