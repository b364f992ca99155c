namespace Presence.Simulator;

/// <summary>One published change of a user's presence, as the reference model decides it.</summary>
internal readonly record struct Change(long T, int User, PresenceState State, int Status, bool Active, long LastActive, bool Prompt);

/// <summary>
/// The reference model of local presence: what a correct homeserver (Synapse's rules, which are also this engine's
/// defaults) publishes for the trace. A device is connected while it syncs (its long-polls follow each other) and for
/// 30 s after its last poll; an online device without activity for 5 min is unavailable; currently_active while the last
/// activity is younger than 60 s; coming online, chatting and setting online count as activity. State and status changes
/// are prompt, currently_active flips are lazy. The baselines send these changes; every strategy's staleness and lost views
/// are measured against them.
/// </summary>
internal sealed class Reference
{
    public const long SyncTimeout = 30_000;
    public const long IdleTimeout = 5 * 60_000;
    public const long Granularity = 60_000;
    private const long None = long.MinValue / 4;

    private Reference(List<Change>[] perUser, Change[] all)
    {
        PerUser = perUser;
        All = all;
    }

    /// <summary>Gets each user's changes in time order.</summary>
    public List<Change>[] PerUser { get; }

    /// <summary>Gets every change in time order.</summary>
    public Change[] All { get; }

    /// <summary>The user's state at <paramref name="t"/> (offline before the first change).</summary>
    public Change At(int user, long t)
    {
        var list = PerUser[user];
        int lo = 0, hi = list.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (list[mid].T <= t)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found < 0 ? new Change(0, user, PresenceState.Offline, 0, false, None, true) : list[found];
    }

    /// <summary>Whether the user has been online or unavailable without a break for longer than <paramref name="for"/> at <paramref name="t"/>.</summary>
    public bool PresentSince(int user, long t, long @for)
    {
        var list = PerUser[user];
        int i = list.Count - 1;
        while (i >= 0 && list[i].T > t)
        {
            i--;
        }

        if (i < 0 || list[i].State is not (PresenceState.Online or PresenceState.Unavailable))
        {
            return false;
        }

        while (i > 0 && list[i - 1].State != PresenceState.Offline)
        {
            i--;
        }

        return t - list[i].T > @for;
    }

    public static Reference Build(World world)
    {
        int users = world.Users.Length;
        var devices = new Device[users * World.DevicesPerUser];
        var state = new UserState[users];
        var perUser = new List<Change>[users];
        for (int u = 0; u < users; u++)
        {
            perUser[u] = [];
            state[u] = new UserState { LastActive = None, Requested = PresenceState.Online, Published = PresenceState.Offline };
        }

        for (int i = 0; i < devices.Length; i++)
        {
            devices[i] = new Device { LastActivity = None, LingerUntil = None };
        }

        var checks = new PriorityQueue<int, long>();
        var all = new List<Change>();
        foreach (var e in world.Trace)
        {
            RunChecks(e.T - 1);
            int slot = (e.User * World.DevicesPerUser) + e.Device;
            ref var d = ref devices[slot];
            ref var s = ref state[e.User];
            switch (e.Kind)
            {
                case TraceKind.DeviceOn:
                    if (!d.Connected && d.LingerUntil <= e.T)
                    {
                        d.Requested = s.Requested;
                        d.LastActivity = s.Requested == PresenceState.Online ? e.T : None;
                    }

                    d.Connected = true;
                    break;
                case TraceKind.DeviceGone:
                    d.Connected = false;
                    d.LingerUntil = e.T + SyncTimeout;
                    break;
                case TraceKind.Logout:
                    d.Connected = false;
                    d.LingerUntil = None;
                    break;
                case TraceKind.Chat:
                    d.LastActivity = e.T;
                    if (d.Requested == PresenceState.Unavailable)
                    {
                        // Activity on an unavailable device makes it online again, an explicit unavailable too (Synapse's
                        // bump_presence_active_time; DESIGN.md's table). Offline and busy stay.
                        d.Requested = PresenceState.Online;
                        s.Requested = PresenceState.Online;
                    }

                    break;
                case TraceKind.SetStatus:
                    s.Requested = e.SetState;
                    s.Status = e.SetStatusId;
                    d.Requested = e.SetState;
                    if (e.SetState == PresenceState.Online)
                    {
                        d.LastActivity = e.T;
                    }

                    break;
            }

            Evaluate(e.User, e.T);
        }

        RunChecks(world.DurationMs);
        return new Reference(perUser, [.. all]);

        void RunChecks(long upTo)
        {
            while (checks.TryPeek(out int user, out long at) && at <= upTo)
            {
                checks.Dequeue();
                Evaluate(user, at);
            }
        }

        void Evaluate(int user, long t)
        {
            ref var s = ref state[user];
            var aggregate = PresenceState.Offline;
            long lastActive = s.LastActive;
            long next = long.MaxValue;
            for (int k = 0; k < World.DevicesPerUser; k++)
            {
                ref var d = ref devices[(user * World.DevicesPerUser) + k];
                bool present = d.Connected || d.LingerUntil > t;
                if (!present)
                {
                    if (d.LastActivity > s.LastActive)
                    {
                        s.LastActive = d.LastActivity; // a dropped device's activity stays with the user
                    }

                    continue;
                }

                if (!d.Connected)
                {
                    next = Math.Min(next, d.LingerUntil);
                }

                var effective = d.Requested;
                if (effective == PresenceState.Online)
                {
                    if (d.LastActivity == None || t - d.LastActivity >= IdleTimeout)
                    {
                        effective = PresenceState.Unavailable;
                    }
                    else
                    {
                        next = Math.Min(next, d.LastActivity + IdleTimeout);
                    }
                }

                if (effective > aggregate)
                {
                    aggregate = effective;
                }

                lastActive = Math.Max(lastActive, d.LastActivity);
            }

            lastActive = Math.Max(lastActive, s.LastActive);
            bool active = aggregate == PresenceState.Online && lastActive != None && t - lastActive < Granularity;
            if (active)
            {
                next = Math.Min(next, lastActive + Granularity);
            }

            int status = s.Status;
            bool prompt = aggregate != s.Published || status != s.PublishedStatus;
            bool lazy = !prompt && aggregate == PresenceState.Online && active != s.PublishedActive;
            if (prompt || lazy)
            {
                var change = new Change(t, user, aggregate, status, active, lastActive, prompt);
                perUser[user].Add(change);
                all.Add(change);
                s.Published = aggregate;
                s.PublishedStatus = status;
                s.PublishedActive = active;
            }

            if (next != long.MaxValue)
            {
                checks.Enqueue(user, next);
            }
        }
    }

    private struct Device
    {
        public bool Connected;
        public long LingerUntil;
        public long LastActivity;
        public PresenceState Requested;
    }

    private struct UserState
    {
        public long LastActive;
        public PresenceState Requested;
        public int Status;
        public PresenceState Published;
        public int PublishedStatus;
        public bool PublishedActive;
    }
}
