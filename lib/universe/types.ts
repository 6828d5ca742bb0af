/**
 * Types of Universe package metadata (packagingVersion 4.0 and 5.0), as the schemas in
 * lib/universe/schemas accept it. Only lib/universe/validate.ts hands these out, after the
 * compiled validators have checked the value: nothing here is trusted without that check.
 */

interface Hash {
  algo: 'sha256';
  /** 64 hex digits. */
  value: string;
}

interface CliInfo {
  /** Where the binary comes from (a URL, or a file path in a build definition). */
  url: string;
  kind: 'executable' | 'zip';
  contentHash: Hash[];
}

type CliOs = 'darwin' | 'linux' | 'windows';

interface Resource {
  assets?: {
    /** Asset name → location (URL or, in a build definition, a file path). */
    uris?: Record<string, string>;
    container?: {
      /** Image name → Docker image reference, e.g. "mesosphere/kibana:7.9.3". */
      docker?: Record<string, string>;
    };
  };
  images?: {
    'icon-small'?: string;
    'icon-medium'?: string;
    'icon-large'?: string;
    screenshots?: string[];
  };
  cli?: {
    binaries: Partial<Record<CliOs, { 'x86-64': CliInfo }>>;
  };
}

interface Marathon {
  /** The Marathon app mustache template, base64-encoded. */
  v2AppMustacheTemplate: string;
}

interface License {
  name: string;
  /** http(s) URL. */
  url: string;
}

/** A JSON Schema object describing the package's options. */
type PackageConfig = Record<string, unknown>;

interface Manager {
  packageName: string;
  minPackageVersion?: string;
  [key: string]: unknown;
}

/** Fields shared by build definitions and repo entries of both packaging versions. */
interface PackageMetadataCommon {
  name: string;
  version: string;
  maintainer: string;
  description: string;
  tags: string[];
  scm?: string;
  website?: string;
  framework?: boolean;
  /** Versions that may upgrade to this one; ["*"] for any. */
  upgradesFrom?: string[];
  /** Versions this one may downgrade to; ["*"] for any. */
  downgradesTo?: string[];
  preInstallNotes?: string;
  postInstallNotes?: string;
  postUninstallNotes?: string;
  licenses?: License[];
  /** e.g. "1.11"; /repo hides the package from older clusters. */
  minDcosReleaseVersion?: string;
  hasKnownIssues?: boolean;
  lastUpdated?: number;
  marathon?: Marathon;
  resource?: Resource;
  config?: PackageConfig;
}

export interface BuildDefinitionV4 extends PackageMetadataCommon {
  packagingVersion: '4.0';
}

interface BuildDefinitionV5 extends PackageMetadataCommon {
  packagingVersion: '5.0';
  manager?: Manager;
}

/** A build definition: a repo entry without releaseVersion and selected, everything inlined. */
export type BuildDefinition = BuildDefinitionV4 | BuildDefinitionV5;

/** What a repo index entry adds to a build definition. */
interface RepoFields {
  /** Cosmos installs the highest by default; the registry assigns it at commit. */
  releaseVersion?: number;
  selected?: boolean;
}

type PackageV4 = BuildDefinitionV4 & RepoFields;
type PackageV5 = BuildDefinitionV5 & RepoFields;
/** One entry of a v4/v5 Universe repo index. */
export type PackageEntry = PackageV4 | PackageV5;
