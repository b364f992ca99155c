using Microsoft.Extensions.Options;

namespace Presence.Internal;

/// <summary>
/// Per-field rules, generated from the data annotations on <see cref="PresenceOptions"/> and
/// <see cref="PresenceFederationOptions"/> (ranges); every failure names its option.
/// </summary>
[OptionsValidator]
internal sealed partial class PresenceOptionsFieldValidator : IValidateOptions<PresenceOptions>;

/// <summary>
/// Checks every option: the per-field rules (<see cref="PresenceOptionsFieldValidator"/>) and, here, the rules between
/// options. One message lists every problem, each naming its option. Registered in DI (<c>ValidateOnStart</c>) and run by
/// <see cref="PresenceEngine.Create"/>.
/// </summary>
internal sealed class PresenceOptionsValidator : IValidateOptions<PresenceOptions>
{
    private static readonly PresenceOptionsFieldValidator Fields = new();

    public ValidateOptionsResult Validate(string? name, PresenceOptions options)
    {
        var failures = Failures(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static void ThrowIfInvalid(PresenceOptions options)
    {
        var failures = Failures(options);
        if (failures.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", failures), nameof(options));
        }
    }

    private static List<string> Failures(PresenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var fields = Fields.Validate(null, options);
        if (fields.Failed)
        {
            failures.AddRange(fields.Failures);
        }

        void Fail(string message) => failures.Add(message);

        // A value type: no annotation can say "set".
        if (options.ServerName.IsEmpty)
        {
            Fail("PresenceOptions.ServerName must be set to this homeserver's name.");
        }

        if (options.IdleTimeout <= options.LastActiveGranularity)
        {
            Fail($"PresenceOptions.IdleTimeout ({options.IdleTimeout}) must be longer than PresenceOptions.LastActiveGranularity ({options.LastActiveGranularity}).");
        }

        if (options.BusyTimeout < options.SyncTimeout)
        {
            Fail($"PresenceOptions.BusyTimeout ({options.BusyTimeout}) must be at least PresenceOptions.SyncTimeout ({options.SyncTimeout}).");
        }

        if (options.StreamRetention is < PresenceOptions.MinStreamRetention or > PresenceOptions.MaxStreamRetention)
        {
            Fail($"PresenceOptions.StreamRetention ({options.StreamRetention}) must be between {PresenceOptions.MinStreamRetention} and {PresenceOptions.MaxStreamRetention}.");
        }

        var f = options.Federation;
        if (f.LazyWindow < f.BatchWindow)
        {
            Fail($"PresenceOptions.Federation.LazyWindow ({f.LazyWindow}) must not be shorter than the batch window ({f.BatchWindow}).");
        }

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

        return failures;
    }

    private static void Positive(TimeSpan value, string name, Action<string> fail)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(365))
        {
            fail($"PresenceOptions.{name} ({value}) must be greater than zero and at most 365 days.");
        }
    }
}
