using System.Text;

namespace Presence.Internal;

/// <summary>Checks every option and the rules between them; one message lists every problem, each naming its option.</summary>
internal static class PresenceOptionsValidator
{
    public static void ThrowIfInvalid(PresenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new StringBuilder();
        void Fail(string message) => errors.Append(errors.Length == 0 ? string.Empty : " ").Append(message);

        if (options.ServerName.IsEmpty)
        {
            Fail("PresenceOptions.ServerName must be set to this homeserver's name.");
        }

        Positive(options.IdleTimeout, nameof(PresenceOptions.IdleTimeout), Fail);
        Positive(options.SyncTimeout, nameof(PresenceOptions.SyncTimeout), Fail);
        Positive(options.BusyTimeout, nameof(PresenceOptions.BusyTimeout), Fail);
        Positive(options.LastActiveGranularity, nameof(PresenceOptions.LastActiveGranularity), Fail);
        Positive(options.ShutdownTimeout, nameof(PresenceOptions.ShutdownTimeout), Fail);
        Positive(options.EvictAfter, nameof(PresenceOptions.EvictAfter), Fail);

        if (options.IdleTimeout <= options.LastActiveGranularity)
        {
            Fail($"PresenceOptions.IdleTimeout ({options.IdleTimeout}) must be longer than PresenceOptions.LastActiveGranularity ({options.LastActiveGranularity}).");
        }

        if (options.BusyTimeout < options.SyncTimeout)
        {
            Fail($"PresenceOptions.BusyTimeout ({options.BusyTimeout}) must be at least PresenceOptions.SyncTimeout ({options.SyncTimeout}).");
        }

        if (options.ClientBatchWindow < TimeSpan.Zero || options.ClientBatchWindow > PresenceOptions.MaxClientBatchWindow)
        {
            Fail($"PresenceOptions.ClientBatchWindow ({options.ClientBatchWindow}) must be between zero and {PresenceOptions.MaxClientBatchWindow}.");
        }

        if (options.MaxStatusMessageLength is < 1 or > 65536)
        {
            Fail($"PresenceOptions.MaxStatusMessageLength ({options.MaxStatusMessageLength}) must be between 1 and 65536.");
        }

        if (options.MaxDevicesPerUser is < 1 or > 255)
        {
            Fail($"PresenceOptions.MaxDevicesPerUser ({options.MaxDevicesPerUser}) must be between 1 and 255.");
        }

        if (options.MaxPresenceListSize < 1)
        {
            Fail($"PresenceOptions.MaxPresenceListSize ({options.MaxPresenceListSize}) must be at least 1.");
        }

        if (options.MembershipCacheCapacity < 1)
        {
            Fail($"PresenceOptions.MembershipCacheCapacity ({options.MembershipCacheCapacity}) must be at least 1.");
        }

        if (options.ShardCount is < 0 or > PresenceOptions.MaxShardCount)
        {
            Fail($"PresenceOptions.ShardCount ({options.ShardCount}) must be between 0 (eight per processor) and {PresenceOptions.MaxShardCount}.");
        }

        var f = options.Federation;
        if (f.BatchWindow < PresenceFederationOptions.MinBatchWindow || f.BatchWindow > PresenceFederationOptions.MaxBatchWindow)
        {
            Fail($"PresenceOptions.Federation.BatchWindow ({f.BatchWindow}) must be between {PresenceFederationOptions.MinBatchWindow} and {PresenceFederationOptions.MaxBatchWindow}.");
        }

        if (f.MaxEntriesPerMessage is < 1 or > MatrixPresenceCodec.MaxArrayItems)
        {
            Fail($"PresenceOptions.Federation.MaxEntriesPerMessage ({f.MaxEntriesPerMessage}) must be between 1 and {MatrixPresenceCodec.MaxArrayItems} (what a receiver reads of one message).");
        }

        if (f.LazyWindow < f.BatchWindow || f.LazyWindow > PresenceFederationOptions.MaxLazyWindow)
        {
            Fail($"PresenceOptions.Federation.LazyWindow ({f.LazyWindow}) must be between the batch window ({f.BatchWindow}) and {PresenceFederationOptions.MaxLazyWindow}.");
        }

        if (f.SpecPeerRefreshInterval < TimeSpan.FromMinutes(1) || f.SpecPeerRefreshInterval > PresenceFederationOptions.MaxSpecPeerRefreshInterval)
        {
            Fail($"PresenceOptions.Federation.SpecPeerRefreshInterval ({f.SpecPeerRefreshInterval}) must be between one minute and {PresenceFederationOptions.MaxSpecPeerRefreshInterval} (today's servers drop a remote user after 30 minutes without an update).");
        }

        if (f.MaxMembershipLookupsPerMessage < 0)
        {
            Fail($"PresenceOptions.Federation.MaxMembershipLookupsPerMessage ({f.MaxMembershipLookupsPerMessage}) must not be negative.");
        }

        Positive(f.RetryInitialDelay, "Federation.RetryInitialDelay", Fail);
        Positive(f.RetryMaxDelay, "Federation.RetryMaxDelay", Fail);
        Positive(f.FailureHorizon, "Federation.FailureHorizon", Fail);
        Positive(f.ShortWatchdog, "Federation.ShortWatchdog", Fail);
        Positive(f.LongWatchdog, "Federation.LongWatchdog", Fail);
        Positive(f.RemoteStaleAfter, "Federation.RemoteStaleAfter", Fail);
        Positive(f.SendTimeout, "Federation.SendTimeout", Fail);
        Positive(f.DefaultPromiseLifetime, "Federation.DefaultPromiseLifetime", Fail);
        if (f.DefaultPromiseLifetime <= f.LongWatchdog)
        {
            Fail($"PresenceOptions.Federation.DefaultPromiseLifetime ({f.DefaultPromiseLifetime}) must be longer than PresenceOptions.Federation.LongWatchdog ({f.LongWatchdog}), or promises lapse before reminders renew them.");
        }

        if (f.RetryMaxDelay < f.RetryInitialDelay)
        {
            Fail($"PresenceOptions.Federation.RetryMaxDelay ({f.RetryMaxDelay}) must be at least PresenceOptions.Federation.RetryInitialDelay ({f.RetryInitialDelay}).");
        }

        if (f.LongWatchdog <= f.ShortWatchdog)
        {
            Fail($"PresenceOptions.Federation.LongWatchdog ({f.LongWatchdog}) must be longer than PresenceOptions.Federation.ShortWatchdog ({f.ShortWatchdog}).");
        }

        if (f.FailureHorizon < f.RetryMaxDelay)
        {
            Fail($"PresenceOptions.Federation.FailureHorizon ({f.FailureHorizon}) must be at least PresenceOptions.Federation.RetryMaxDelay ({f.RetryMaxDelay}).");
        }

        if (f.MaxInboundEntriesPerMessage < 1 || f.MaxSubscriptionsPerPeer < 1 || f.MaxRemoteUsersPerPeer < 1 || f.MaxPendingInvitesPerPeer < 1)
        {
            Fail("PresenceOptions.Federation.MaxInboundEntriesPerMessage, PresenceOptions.Federation.MaxSubscriptionsPerPeer, PresenceOptions.Federation.MaxRemoteUsersPerPeer and PresenceOptions.Federation.MaxPendingInvitesPerPeer must be at least 1.");
        }

        if (errors.Length > 0)
        {
            throw new ArgumentException(errors.ToString(), nameof(options));
        }
    }

    private static void Positive(TimeSpan value, string name, Action<string> fail)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(365))
        {
            fail($"PresenceOptions.{name} ({value}) must be greater than zero and at most 365 days.");
        }
    }
}
