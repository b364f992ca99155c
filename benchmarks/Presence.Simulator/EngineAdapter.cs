namespace Presence.Simulator;

/// <summary>
/// This engine: a real <see cref="IPresenceEngine"/> per server on one fake clock (<see cref="SteppingClock"/>), fed the client trace
/// (heartbeats at the start and end of every 30 s long-poll, activity, explicit settings, disconnects), with every
/// transaction's arrival told to the receiver (<see cref="IPresenceEngine.NoteTraffic"/>). Everything the engine sends goes
/// through <see cref="IPresenceTransport"/> as a message of its own (the engine on this branch has no API to ride the host's
/// transactions). The only file that knows the engine's federation API: switching to the riding API changes this file.
/// </summary>
internal sealed class EngineStrategy : Strategy
{
    private readonly SteppingClock _clock;
    private IPresenceEngine[] _engines = [];
    private int[] _devicesOn = [];
    private long[] _session = [];
    private long? _memory;
    private HashSet<int> _owners = [];
    private bool _stopping;
    private int _outstanding;
    private static int s_measured;
    private long _heapBefore;

    public EngineStrategy(DateTimeOffset epoch) => _clock = new SteppingClock(epoch);

    public override string Name => "this engine";

    public override bool UsesTrace => true;

    public override long? MemoryBytes => _memory;

    public override string Diagnostics => $"reads not completed at once: {PendingReads}, engine calls failed: {Failures}, never completed: {_outstanding}";

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

        _heapBefore = Heap(); // the host's rooms are not the engine's memory

        _engines = new IPresenceEngine[world.Servers.Length];
        for (int s = 0; s < _engines.Length; s++)
        {
            var options = new PresenceOptions { ServerName = world.Servers[s] };
            foreach (var room in Run.ExcludedRooms)
            {
                options.ExcludedRooms.Add(room);
            }

            _engines[s] = PresenceEngine.Create(options, rooms, timeProvider: _clock, transport: new Transport(this, s));
            await _engines[s].StartAsync().ConfigureAwait(false);
        }

        _owners = [.. world.Lists.Select(l => l.Owner)];
        _devicesOn = new int[world.Users.Length];
        _session = new long[world.Users.Length * World.DevicesPerUser];
        Run.Net.Delivered = (from, to, payload, chat) =>
        {
            if (chat && !_stopping)
            {
                _engines[to].NoteTraffic(world.Servers[from]);
            }
        };
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

                engine.Heartbeat(user, device);
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
                if (e.Kind == TraceKind.Logout)
                {
                    engine.Disconnect(user, device);
                }
                else
                {
                    engine.Heartbeat(user, device); // the last long-poll ends; no other follows
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
        // The heap grown over the run, less what the simulator itself recorded meanwhile (transactions, staleness samples).
        // Only the first engine run in a process is measured: disposed engines stay reachable for a while after disposal
        // (something outside them holds them until later engines run), which would skew a later run's baseline.
        long grown = Heap() - _heapBefore - Run.RecordedBytes;
        _memory = Interlocked.Exchange(ref s_measured, 1) == 0 ? grown : null;
        StopEngines();
        return ValueTask.CompletedTask;
    }

    /// <summary>Gets the number of reads that did not complete at once (counted as unknown rather than waited for).</summary>
    public int PendingReads { get; private set; }

    /// <summary>Gets the number of engine calls that failed (they must not).</summary>
    public int Failures { get; private set; }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private void StopEngines()
    {
        // Disposal drains with a bound on the engines' clock and may wait for sends the simulation delivers: keep it running.
        _stopping = true;
        var disposing = Task.WhenAll(_engines.Select(e => e.DisposeAsync().AsTask()).ToArray());
        long limit = Run.Sim.Now + 120_000;
        while (!disposing.IsCompleted && Run.Sim.Now < limit)
        {
            Run.Sim.RunUntil(Run.Sim.Now + 1_000);
        }

        if (!disposing.IsCompletedSuccessfully)
        {
            Failures++;
        }

        _engines = [];
        Run.Net.Delivered = null;
        Run.Sim.StepClock = null;
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

            // The end of one long-poll and the start of the next: the sync API on this branch is a heartbeat at each.
            var engine = _engines[Run.World.ServerOf[user]];
            engine.Heartbeat(Run.World.Users[user], device == 0 ? "d0" : "d1");
            engine.Heartbeat(Run.World.Users[user], device == 0 ? "d0" : "d1");
            SchedulePoll(user, device, session, end);
        });
    }

    private sealed class Transport(EngineStrategy owner, int from) : IPresenceTransport
    {
        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            var run = owner.Run;
            int to = run.ServerIndex[destination];
            var payload = new PresencePayload { Edus = 1, Tag = message, EntryCount = message.EntryCount };
            payload.Entries.AddRange(message.Push);
            payload.Bytes = Sizes.Edu(run.World.Servers[from], run.Wall(run.Sim.Now), message);
            var done = new TaskCompletionSource(); // completes on the simulation's thread, inline
            run.Net.SendDirect(from, to, payload, ok =>
            {
                if (ok)
                {
                    foreach (var snapshot in message.Push)
                    {
                        run.Received(to, snapshot);
                    }

                    if (!owner._stopping)
                    {
                        // Never block the simulation's thread: an answer the engine sends completes when the simulation delivers it.
                        owner.Observe(owner._engines[to].ReceiveAsync(run.World.Servers[from], message, CancellationToken.None));
                    }

                    done.SetResult();
                }
                else
                {
                    done.SetException(new InvalidOperationException($"{destination} is unreachable (simulated outage)."));
                }
            });
            return new ValueTask(done.Task);
        }
    }
}
