namespace Presence.Core.Tests.Core;

/// <summary>
/// What one user looks like from outside: the fields a snapshot carries. Times are clock ticks since the scenario
/// started (null when unknown).
/// </summary>
internal readonly record struct ModelView(PresenceState State, string? StatusMessage, long? LastActive, bool CurrentlyActive, DeviceKinds Kinds)
{
    public override string ToString()
    {
        string lastActive = LastActive switch
        {
            null => "none",
            < 0 => $"t-{UserTableScenario.Format(-LastActive.Value)}",
            _ => $"t+{UserTableScenario.Format(LastActive.Value)}",
        };
        return $"{State}{(CurrentlyActive ? " (currently active)" : string.Empty)}, status {(StatusMessage is null ? "none" : $"\"{StatusMessage}\"")}, last active {lastActive}, kinds {Kinds}";
    }
}

/// <summary>
/// The reference model of local presence, written from the rules in README "Behaviour" and DESIGN "Presence of one
/// user" rather than from <c>UserTable</c>: plain lists, nullable times, and every derived value (each device's
/// effective state, the user's aggregate, who timed out) recomputed from scratch whenever it is asked for. It has no
/// deadlines of its own: the driver evaluates it at the instants it names (<see cref="NextChange"/>) and at inputs.
/// </summary>
/// <remarks>
/// Where the documents are silent the model says what it assumes (marked "assumed"); those points follow the
/// implementation. Times are clock ticks; the test clock has 10,000,000 ticks a second.
/// </remarks>
internal sealed class PresenceModel
{
    public static readonly long Granularity = TimeSpan.FromSeconds(60).Ticks;
    public static readonly long IdleTimeout = TimeSpan.FromMinutes(5).Ticks;
    public static readonly long SyncTimeout = TimeSpan.FromSeconds(30).Ticks;
    public static readonly long BusyTimeout = TimeSpan.FromHours(1).Ticks;

    private readonly Dictionary<int, User> _users = [];
    private readonly int _maxDevices;

    /// <param name="maxDevices">Connected devices per user; beyond it the least recently seen is dropped.</param>
    /// <param name="syncSetPresenceReplacesBusy">
    /// DESIGN says a sync's <c>set_presence</c> never replaces busy (false). True reproduces what the table does today;
    /// see <c>UserTableModelTests</c>, "known discrepancy".
    /// </param>
    public PresenceModel(int maxDevices, bool syncSetPresenceReplacesBusy)
    {
        _maxDevices = maxDevices;
        SyncSetPresenceReplacesBusy = syncSetPresenceReplacesBusy;
    }

    public bool SyncSetPresenceReplacesBusy { get; }

    /// <summary>Devices dropped so far, by reason (SyncTimeout, BusyTimeout, Disconnect, DeviceCap).</summary>
    public Dictionary<string, int> Drops { get; } = [];

    public bool HasUser(int user) => _users.ContainsKey(user);

    public IReadOnlyList<ModelView> Publications(int user) => _users[user].Publications;

    public IEnumerable<string> DeviceIds(int user) => _users[user].Devices.Select(static d => d.Id);

    // ----- inputs -----

    /// <summary>A sync, with its <c>set_presence</c> if any.</summary>
    public void Heartbeat(int user, string device, PresenceState? setPresence, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        var u = Begin(user, now);
        var d = Find(u, device);
        if (d is null)
        {
            // A new device starts in the state the user last asked for, unless this very sync says otherwise.
            var start = u.LastRequested;
            if (setPresence is { } wanted && (start != PresenceState.Busy || SyncSetPresenceReplacesBusy))
            {
                start = wanted;
            }

            d = Connect(u, device, start, now, evicted);
        }
        else
        {
            d.LastSync = now;
            if (setPresence is { } wanted && wanted != d.Requested && (d.Requested != PresenceState.Busy || SyncSetPresenceReplacesBusy))
            {
                // Assumed (the documents say nothing): a sync that brings a device from unavailable/offline to
                // online/busy is the user coming back, so it counts as activity; moving between online and busy does not.
                bool comingBack = !IsActiveState(d.Requested) && IsActiveState(wanted);
                d.Requested = wanted;
                u.LastRequested = wanted;
                if (comingBack)
                {
                    d.LastActivity = now;
                    d.Idle = false;
                }
            }
        }

        Evaluate(u, now);
    }

    /// <summary>A sync opens (a <c>/sync</c> starts): as a heartbeat, and the device stays connected until it closes.</summary>
    public void OpenSync(int user, string device, PresenceState? setPresence, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        Heartbeat(user, device, setPresence, now, evicted);
        Find(_users[user], device)!.OpenSyncs++;
    }

    /// <summary>A sync closes: the sync timeout of the device runs from now once no sync is open. Nothing is decided here.</summary>
    public void CloseSync(int user, string device, long now)
    {
        if (_users.TryGetValue(user, out var u) && Find(u, device) is { OpenSyncs: > 0 } d)
        {
            d.OpenSyncs--;
            d.LastSync = now;
        }
    }

    /// <summary>The user acted on the device (CancelIdle is the same call in the engine).</summary>
    public void Activity(int user, string device, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        var u = Begin(user, now);
        var d = Find(u, device) ?? Connect(u, device, u.LastRequested, now, evicted);
        d.LastActivity = now;
        d.Idle = false;
        if (d.Requested == PresenceState.Unavailable)
        {
            // Activity on an unavailable device brings it online; offline and busy stay.
            d.Requested = PresenceState.Online;
            u.LastRequested = PresenceState.Online; // assumed: the device's new state is what new devices start in
        }

        Evaluate(u, now);
    }

    /// <summary>"Idle for N": idleness began at now − N, but never later than the last activity seen.</summary>
    public void Idle(int user, string device, long idleFor, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        var u = Begin(user, now);
        var d = Find(u, device) ?? Connect(u, device, u.LastRequested, now, evicted);
        long start = now - idleFor;
        d.LastActivity = d.LastActivity is { } seen ? Math.Min(seen, start) : start;
        d.Idle = true;
        Evaluate(u, now);
    }

    public void SetKind(int user, string device, DeviceKinds kind, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        var u = Begin(user, now);
        var d = Find(u, device) ?? Connect(u, device, u.LastRequested, now, evicted);
        d.Kind = kind;
        Evaluate(u, now);
    }

    public void Disconnect(int user, string device, long now)
    {
        if (!_users.ContainsKey(user))
        {
            return; // nothing is created for a user never seen
        }

        var u = Begin(user, now);
        if (Find(u, device) is { } d)
        {
            Drop(u, d, "Disconnect");
        }

        Evaluate(u, now);
    }

    /// <summary>An explicit set: online and busy count as activity, unavailable and offline keep last-active; the status is replaced.</summary>
    public void SetPresence(int user, string device, PresenceState state, string? status, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        var u = Begin(user, now);
        var d = Find(u, device) ?? Connect(u, device, state, now, evicted);
        d.Requested = state;
        if (IsActiveState(state))
        {
            d.LastActivity = now;
            d.Idle = false;
        }

        u.LastRequested = state;
        u.StatusMessage = status;
        Evaluate(u, now);
    }

    /// <summary>A read: the view as of <paramref name="now"/>, applying what is due.</summary>
    public ModelView Read(int user, long now)
    {
        var u = _users[user];
        Evaluate(u, now);
        return ViewOf(u, now);
    }

    /// <summary>The timer: every user evaluated at <paramref name="now"/>.</summary>
    public void Tick(long now)
    {
        foreach (var u in _users.Values)
        {
            Evaluate(u, now);
        }
    }

    /// <summary>The view of a user at <paramref name="now"/>, computed from scratch.</summary>
    public ModelView View(int user, long now) => ViewOf(_users[user], now);

    /// <summary>
    /// The first instant after <paramref name="now"/> at which some view could change with no input: a device's
    /// timeout, an online device's idle timeout, a user's last activity turning 60 s old. (Some of these change nothing;
    /// evaluating there is harmless.)
    /// </summary>
    public long NextChange(long now)
    {
        var candidates = new List<long>();
        foreach (var u in _users.Values)
        {
            foreach (var d in u.Devices)
            {
                if (d.OpenSyncs == 0)
                {
                    candidates.Add(d.Seen + (d.Requested == PresenceState.Busy ? BusyTimeout : SyncTimeout));
                }

                if (d.LastActivity is { } a)
                {
                    candidates.Add(a + IdleTimeout);
                }
            }

            if (LastActiveOf(u) is { } last)
            {
                candidates.Add(last + Granularity);
            }
        }

        return candidates.Where(t => t > now).DefaultIfEmpty(long.MaxValue).Min();
    }

    // ----- the rules -----

    private static bool IsActiveState(PresenceState state) => state is PresenceState.Online or PresenceState.Busy;

    /// <summary>A device with a sync open never times out; otherwise the sync (or busy) timeout runs from when it was last seen.</summary>
    private static bool TimedOut(Device d, long now) => d.OpenSyncs == 0 && now - d.Seen >= (d.Requested == PresenceState.Busy ? BusyTimeout : SyncTimeout);

    private static PresenceState EffectiveState(Device d, long now)
        => d.Requested == PresenceState.Online && (d.Idle || d.LastActivity is not { } a || now - a >= IdleTimeout)
            ? PresenceState.Unavailable
            : d.Requested;

    /// <summary>Last-active is the most recent activity of any device, kept when devices go away.</summary>
    private static long? LastActiveOf(User u)
        => u.Devices.Select(static d => d.LastActivity).Append(u.GoneLastActive).Max();

    private static ModelView ViewOf(User u, long now)
    {
        var live = u.Devices.Where(d => !TimedOut(d, now)).ToList();

        // busy > online > unavailable > offline; no devices is offline.
        var state = PresenceState.Offline;
        foreach (var d in live)
        {
            var effective = EffectiveState(d, now);
            if (Rank(effective) > Rank(state))
            {
                state = effective;
            }
        }

        long? lastActive = LastActiveOf(u);
        bool active = state == PresenceState.Online && lastActive is { } last && now - last < Granularity;
        var kinds = live.Aggregate(DeviceKinds.None, static (k, d) => k | d.Kind);
        return new ModelView(state, u.StatusMessage, lastActive, active, kinds);
    }

    private static int Rank(PresenceState state) => state switch
    {
        PresenceState.Busy => 3,
        PresenceState.Online => 2,
        PresenceState.Unavailable => 1,
        _ => 0,
    };

    /// <summary>
    /// Publishes when it matters: state, status message or device kinds changed, currently_active flipped, or
    /// last-active jumped by more than the granularity while not currently active.
    /// </summary>
    private static bool Matters(ModelView now, ModelView? published)
    {
        if (published is not { } p)
        {
            return true;
        }

        bool jumped = now.LastActive != p.LastActive
            && (now.LastActive is null || p.LastActive is null || Math.Abs(now.LastActive.Value - p.LastActive.Value) > Granularity);
        return now.State != p.State
            || !string.Equals(now.StatusMessage, p.StatusMessage, StringComparison.Ordinal)
            || now.Kinds != p.Kinds
            || now.CurrentlyActive != p.CurrentlyActive
            || (!now.CurrentlyActive && jumped);
    }

    private void Evaluate(User u, long now)
    {
        DropTimedOut(u, now);
        var view = ViewOf(u, now);
        if (Matters(view, u.Published))
        {
            u.Published = view;
            u.Publications.Add(view);
        }
    }

    /// <summary>Gets or creates the user; a device whose time is up is gone before any input can touch it.</summary>
    private User Begin(int user, long now)
    {
        if (!_users.TryGetValue(user, out var u))
        {
            u = new User();
            _users.Add(user, u);
        }

        DropTimedOut(u, now);
        return u;
    }

    private void DropTimedOut(User u, long now)
    {
        foreach (var d in u.Devices.Where(d => TimedOut(d, now)).ToList())
        {
            Drop(u, d, d.Requested == PresenceState.Busy ? "BusyTimeout" : "SyncTimeout");
        }
    }

    private void Drop(User u, Device d, string reason)
    {
        u.Devices.Remove(d);
        if (d.LastActivity is { } a && (u.GoneLastActive is not { } gone || a > gone))
        {
            u.GoneLastActive = a;
        }

        Drops[reason] = Drops.GetValueOrDefault(reason) + 1;
    }

    /// <summary>
    /// A new device. Beyond the cap the least recently seen (latest of sync and activity) is dropped first; which of
    /// several equally old ones is not specified, so <paramref name="evicted"/> says which one the table chose.
    /// </summary>
    private Device Connect(User u, string id, PresenceState state, long now, Func<IReadOnlyList<string>, string> evicted)
    {
        if (u.Devices.Count >= _maxDevices)
        {
            long oldest = u.Devices.Min(static d => d.CapSeen);
            var candidates = u.Devices.Where(d => d.CapSeen == oldest).Select(static d => d.Id).ToList();
            string victim = candidates.Count == 1 ? candidates[0] : evicted(candidates);
            Drop(u, u.Devices.Single(d => d.Id == victim), "DeviceCap");
        }

        var device = new Device(id)
        {
            LastSync = now,
            LastActivity = IsActiveState(state) ? now : null, // connecting online or busy counts as activity
            Requested = state,
        };
        u.Devices.Add(device);
        u.LastRequested = state;
        return device;
    }

    private static Device? Find(User u, string id) => u.Devices.Find(d => d.Id == id);

    private sealed class User
    {
        public List<Device> Devices { get; } = [];

        /// <summary>The state new devices start in: what the user last asked for (online at first).</summary>
        public PresenceState LastRequested { get; set; } = PresenceState.Online;

        public string? StatusMessage { get; set; }

        /// <summary>The latest activity of devices that went away.</summary>
        public long? GoneLastActive { get; set; }

        public ModelView? Published { get; set; }

        public List<ModelView> Publications { get; } = [];
    }

    private sealed class Device(string id)
    {
        public string Id { get; } = id;

        public long LastSync { get; set; }

        public long? LastActivity { get; set; }

        public PresenceState Requested { get; set; }

        public bool Idle { get; set; }

        public DeviceKinds Kind { get; set; } = DeviceKinds.Standard;

        /// <summary>Last seen: the later of the last sync and the last activity.</summary>
        public long Seen => LastActivity is { } a ? Math.Max(LastSync, a) : LastSync;

        /// <summary>Syncs open now.</summary>
        public int OpenSyncs { get; set; }

        /// <summary>How recently seen, for the device cap: a device with a sync open counts as seen now, later than any other.</summary>
        public long CapSeen => OpenSyncs > 0 ? long.MaxValue : Seen;
    }
}
