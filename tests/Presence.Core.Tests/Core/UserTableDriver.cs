using Presence.Internal;
using static Presence.Core.Tests.Core.UserTableScenario;

namespace Presence.Core.Tests.Core;

/// <summary>A model and the table it describes disagree; the message says where and how.</summary>
internal sealed class ModelMismatchException(string message) : Exception(message);

/// <summary>
/// Plays a <see cref="UserTableScenario"/> into a fresh <see cref="UserTable"/> and a fresh <see cref="PresenceModel"/>,
/// the way the engine drives the table: inputs at the current time, and <see cref="UserTable.Expire"/> whenever the
/// engine's timer would fire. After every step it compares, for every user, the current view (state,
/// currently_active, last-active, status message, device kinds), the whole sequence of publications, the connected
/// devices and the drop counts by reason; the first difference throws <see cref="ModelMismatchException"/>.
/// </summary>
internal sealed class UserTableDriver
{
    private static readonly UserId[] Users = [.. Enumerable.Range(0, UserCount).Select(static i => UserId.Parse($"@u{i}:example.org"))];

    private readonly UserTable _table;
    private readonly PresenceModel _model;
    private readonly Recorder _recorder = new();
    private readonly long _start;
    private readonly int[] _verified = new int[UserCount];
    private bool _timerOwed;
    private int _step;
    private Op? _op;
    private Op? _during;

    /// <summary>Ticks since the start: the model's time. The table's is <see cref="T"/>.</summary>
    private long _now;

    private UserTableDriver(int maxDevices, bool syncSetPresenceReplacesBusy)
    {
        var clock = new FakeTimeProvider(EngineHarness.Start);
        if (clock.TimestampFrequency != TimeSpan.TicksPerSecond)
        {
            throw new InvalidOperationException("The model counts time in 100 ns ticks.");
        }

        var options = new PresenceOptions
        {
            ServerName = EngineHarness.Server,
            EnableBusy = true,
            MaxDevicesPerUser = maxDevices,
            LastActiveGranularity = TimeSpan.FromTicks(PresenceModel.Granularity),
            IdleTimeout = TimeSpan.FromTicks(PresenceModel.IdleTimeout),
            SyncTimeout = TimeSpan.FromTicks(PresenceModel.SyncTimeout),
            BusyTimeout = TimeSpan.FromTicks(PresenceModel.BusyTimeout),
        };
        _table = new UserTable(options, _recorder, new TimeBase(clock));
        _model = new PresenceModel(maxDevices, syncSetPresenceReplacesBusy);
        _start = clock.GetTimestamp();
    }

    /// <summary>Plays the scenario; throws <see cref="ModelMismatchException"/> at the first difference.</summary>
    /// <param name="scenario">The inputs.</param>
    /// <param name="syncSetPresenceReplacesBusy">See <see cref="PresenceModel(int, bool)"/>.</param>
    public static void Run(UserTableScenario scenario, bool syncSetPresenceReplacesBusy)
    {
        var driver = new UserTableDriver(scenario.MaxDevices, syncSetPresenceReplacesBusy);
        for (int step = 0; step < scenario.Ops.Length; step++)
        {
            driver.Play(step, scenario.Ops[step]);
        }
    }

    /// <summary>Gets the first difference the scenario shows, or null.</summary>
    public static string? FailureOf(UserTableScenario scenario, bool syncSetPresenceReplacesBusy)
    {
        try
        {
            Run(scenario, syncSetPresenceReplacesBusy);
            return null;
        }
        catch (ModelMismatchException e)
        {
            return e.Message;
        }
    }

    /// <summary>The table's time for a model time.</summary>
    private long T(long now) => _start + now;

    private void Play(int step, Op op)
    {
        _step = step;
        _op = op;
        _during = null;
        switch (op)
        {
            case Advance { Late: true } late:
                FireOwedTimer();
                _now += late.By;
                _timerOwed = true; // nothing is compared until the timer has run
                return;

            case Advance advance:
                FireOwedTimer();
                AdvanceTo(_now + advance.By);
                break;

            case AdvanceSyncing syncing:
                FireOwedTimer();
                for (long end = _now + syncing.By; _now < end;)
                {
                    _during = null;
                    AdvanceTo(Math.Min(end, _now + syncing.Every));
                    Compare();
                    for (int user = 0; user < UserCount; user++)
                    {
                        if (_model.HasUser(user))
                        {
                            foreach (string device in _model.DeviceIds(user).ToList())
                            {
                                var heartbeat = new Heartbeat(user, device, null);
                                _during = heartbeat;
                                Input(heartbeat);
                            }
                        }
                    }
                }

                _during = null;
                break;

            default:
                Input(op);
                FireOwedTimer(); // a late timer runs right after the input that beat it
                break;
        }

        Compare();
    }

    private void FireOwedTimer()
    {
        if (_timerOwed)
        {
            _timerOwed = false;
            Fire(_now);
        }
    }

    /// <summary>
    /// Moves the clock to <paramref name="target"/>, firing the timer at every deadline the table names, as the engine's
    /// one timer does. The model's own change instants are visited too, so that a deadline the table forgot shows up
    /// as a difference instead of being papered over by a later firing.
    /// </summary>
    private void AdvanceTo(long target)
    {
        for (int firings = 0; ; firings++)
        {
            long next = Math.Min(_table.NextDeadline - _start, _model.NextChange(_now));
            if (next > target)
            {
                break;
            }

            if (firings == 10_000)
            {
                throw Mismatch("the timer makes no progress");
            }

            _now = Math.Max(_now, next);
            Fire(_now);
        }

        _now = target;
        Fire(_now);
    }

    private void Fire(long now)
    {
        _table.Expire(T(now));
        _model.Tick(now);
    }

    private void Input(Op op)
    {
        int publishedBefore = _recorder.Count;
        switch (op)
        {
            case Heartbeat h:
                bool changed = _table.Heartbeat(Users[h.User], h.Device, h.SetPresence, T(_now));
                _model.Heartbeat(h.User, h.Device, h.SetPresence, _now, EvictedAtCap(h.User));
                if (!changed && _recorder.Count != publishedBefore)
                {
                    throw Mismatch("Heartbeat returned false (only the sync time moved) yet published");
                }

                break;
            case OpenSync o:
                bool opened = _table.OpenSync(Users[o.User], StableHash.Of(Users[o.User]), o.Device, o.SetPresence, T(_now));
                _model.OpenSync(o.User, o.Device, o.SetPresence, _now, EvictedAtCap(o.User));
                if (!opened && _recorder.Count != publishedBefore)
                {
                    throw Mismatch("OpenSync returned false (only the sync time moved) yet published");
                }

                break;
            case CloseSync c:
                _table.CloseSync(Users[c.User], StableHash.Of(Users[c.User]), c.Device, T(_now));
                _model.CloseSync(c.User, c.Device, _now);
                if (_recorder.Count != publishedBefore)
                {
                    throw Mismatch("CloseSync published");
                }

                break;
            case Activity a:
                _table.Activity(Users[a.User], a.Device, T(_now));
                _model.Activity(a.User, a.Device, _now, EvictedAtCap(a.User));
                break;
            case Idle i:
                _table.Idle(Users[i.User], i.Device, i.For, T(_now));
                _model.Idle(i.User, i.Device, i.For, _now, EvictedAtCap(i.User));
                break;
            case SetKind k:
                _table.SetKind(Users[k.User], k.Device, k.Kind, T(_now));
                _model.SetKind(k.User, k.Device, k.Kind, _now, EvictedAtCap(k.User));
                break;
            case Disconnect d:
                _table.Disconnect(Users[d.User], d.Device, T(_now));
                _model.Disconnect(d.User, d.Device, _now);
                break;
            case SetPresence p:
                _table.SetPresence(Users[p.User], p.Device, p.State, p.Status, T(_now));
                _model.SetPresence(p.User, p.Device, p.State, p.Status, _now, EvictedAtCap(p.User));
                break;
            case Read r:
                if (Known(r.User, out int index))
                {
                    ExpectView(_table.Read(index, T(_now)), _model.Read(r.User, _now), r.User, "what the read returned");
                }

                break;
            default:
                throw new InvalidOperationException($"Unexpected input {op}.");
        }
    }

    /// <summary>Which of several equally old devices the table dropped at the cap: the candidate it no longer holds.</summary>
    private Func<IReadOnlyList<string>, string> EvictedAtCap(int user) => candidates =>
    {
        var held = DevicesInTable(user);
        var gone = candidates.Where(c => !held.Contains(c)).ToList();
        return gone.Count == 1
            ? gone[0]
            : throw Mismatch($"at the device cap one of [{string.Join(", ", candidates)}] should have gone; the table holds [{string.Join(", ", held)}]");
    };

    private List<string> DevicesInTable(int user)
    {
        var ids = new List<string>();
        if (_table.TryFind(Users[user], out int index))
        {
            ref UserSlot u = ref _table[index];
            for (int i = 0; i < u.DeviceCount; i++)
            {
                ids.Add(i == 0 ? u.Device0.Id : u.MoreDevices![i - 1].Id);
            }
        }

        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    private bool Known(int user, out int index)
    {
        bool known = _table.TryFind(Users[user], out index);
        return known == _model.HasUser(user)
            ? known
            : throw Mismatch($"u{user} is known to the table: {known}, to the model: {_model.HasUser(user)}");
    }

    private void Compare()
    {
        for (int user = 0; user < UserCount; user++)
        {
            if (!Known(user, out int index))
            {
                continue;
            }

            // The timer has caught up, so a read has nothing to apply and must publish nothing.
            int before = _recorder.Count;
            ExpectView(_table.Read(index, T(_now)), _model.View(user, _now), user, "now");
            if (_recorder.Count != before)
            {
                throw Mismatch($"a read of u{user} with nothing due published");
            }

            var expected = _model.Publications(user);
            var actual = _recorder.PublishedFor(Users[user]);
            if (expected.Count != actual.Count)
            {
                throw Mismatch($"u{user} should have {expected.Count} publications, the table made {actual.Count}"
                    + $"\n  expected: {string.Join("\n            ", expected)}\n  actual:   {string.Join("\n            ", actual.Select(ViewOf))}");
            }

            for (int i = _verified[user]; i < expected.Count; i++)
            {
                ExpectView(actual[i], expected[i], user, "publication #", i);
            }

            _verified[user] = expected.Count; // both lists only grow: earlier entries were compared already
            ExpectView(_table.Published(index), expected[^1], user, "what the table holds as published");

            var devices = _model.DeviceIds(user).Order(StringComparer.Ordinal).ToList();
            var held = DevicesInTable(user);
            if (!devices.SequenceEqual(held))
            {
                throw Mismatch($"u{user} should have devices [{string.Join(", ", devices)}], the table holds [{string.Join(", ", held)}]");
            }
        }

        foreach (var reason in Enum.GetValues<DropReason>())
        {
            int expected = _model.Drops.GetValueOrDefault(reason.ToString());
            int actual = _recorder.Drops.GetValueOrDefault(reason);
            if (expected != actual)
            {
                throw Mismatch($"{reason} drops: the model counts {expected}, the table reported {actual}");
            }
        }
    }

    /// <summary>A snapshot as the model sees it. The test clock's timestamps are its UTC ticks, so this is exact.</summary>
    private ModelView ViewOf(PresenceSnapshot s) => new(s.State, s.StatusMessage, s.LastActive?.UtcTicks - _start, s.CurrentlyActive, s.DeviceKinds);

    private void ExpectView(PresenceSnapshot actual, ModelView expected, int user, string what, int? number = null)
    {
        var got = ViewOf(actual);
        if (got != expected)
        {
            throw Mismatch($"u{user}, {what}{number}:\n  expected {expected}\n  but was  {got}");
        }
    }

    /// <summary>The difference, and where the scenario was when it showed.</summary>
    private ModelMismatchException Mismatch(string what)
        => new($"step {_step} ({_op}){(_during is null ? string.Empty : $", during {_during}")}, at t+{Format(_now)}: {what}");

    /// <summary>Collects what the table tells its owner.</summary>
    private sealed class Recorder : IUserTableObserver
    {
        private readonly Dictionary<UserId, List<PresenceSnapshot>> _published = [];

        public int Count { get; private set; }

        public Dictionary<DropReason, int> Drops { get; } = [];

        public List<PresenceSnapshot> PublishedFor(UserId user) => _published.GetValueOrDefault(user) ?? [];

        public void OnPublished(int index, PresenceSnapshot snapshot)
        {
            if (!_published.TryGetValue(snapshot.User, out var list))
            {
                _published[snapshot.User] = list = [];
            }

            list.Add(snapshot);
            Count++;
        }

        public void OnDirty(int index)
        {
        }

        public void OnDeviceDropped(DropReason reason) => Drops[reason] = Drops.GetValueOrDefault(reason) + 1;

        public bool TryLoadNow(UserId user, out PresenceRecord? record) => throw new InvalidOperationException("A bare table reads no store.");

        public void OnEvictable(UserId user)
        {
        }
    }
}
