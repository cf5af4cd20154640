// The character network, drawn with cytoscape (installed into static/vendor/ by
// scripts/vendor.sh). Nodes are characters (colour: emotion, size: energy or influence),
// edges are directed relationships (colour: strength red → grey → green, width: trust).
// Live events change element data in place — cy.getElementById(id).data({...}) — so the
// layout never moves under the reader; new characters and relationships are added beside
// their neighbours without a re-layout.

// --- The small part of cytoscape's API this module uses --------------------------------

/**
 * @typedef {object} CyPosition
 * @property {number} x
 * @property {number} y
 */

/**
 * @typedef {object} CyBox
 * @property {number} x1
 * @property {number} y1
 * @property {number} x2
 * @property {number} y2
 * @property {number} w
 * @property {number} h
 */

/**
 * @typedef {object} CyCollection
 * @property {number} length
 * @property {(fn: (element: CyElement) => void) => void} forEach
 * @property {(classes: string) => CyCollection} addClass
 * @property {(classes: string) => CyCollection} removeClass
 * @property {() => CyBox} boundingBox
 * @property {() => CyCollection} remove
 */

/**
 * @typedef {object} CyElement
 * @property {number} length
 * @property {() => string} id
 * @property {{(key: string): any, (values: Record<string, unknown>): CyElement}} data
 * @property {{(): CyPosition, (position: CyPosition): CyElement}} position
 * @property {(classes: string, duration?: number) => CyElement} flashClass
 * @property {(classes: string) => CyElement} addClass
 * @property {(classes: string) => CyElement} removeClass
 * @property {() => CyCollection} connectedEdges
 * @property {() => CyCollection} closedNeighborhood
 * @property {() => CyCollection} neighborhood
 * @property {() => CyCollection} remove
 */

/**
 * @typedef {object} CyEvent
 * @property {unknown} target
 */

/**
 * @typedef {object} CyElementDefinition
 * @property {"nodes" | "edges"} group
 * @property {Record<string, unknown>} data
 * @property {CyPosition} [position]
 */

/**
 * @typedef {object} CyCore
 * @property {(id: string) => CyElement} getElementById
 * @property {(elements: CyElementDefinition | CyElementDefinition[]) => CyCollection} add
 * @property {{(events: string, handler: (event: CyEvent) => void): CyCore, (events: string, selector: string, handler: (event: CyEvent) => void): CyCore}} on
 * @property {(options: Record<string, unknown>) => {run: () => void}} layout
 * @property {(elements?: CyCollection, padding?: number) => CyCore} fit
 * @property {() => CyCollection} nodes
 * @property {() => CyCollection} edges
 * @property {() => CyCollection} elements
 * @property {(fn: () => void) => void} batch
 * @property {() => void} resize
 * @property {{(): number, (level: number): CyCore}} zoom
 * @property {() => CyCore} center
 */

/** @typedef {(options: Record<string, unknown>) => CyCore} CytoscapeFactory */

// --- Page data ---------------------------------------------------------------------------

/**
 * @typedef {object} CharacterNode
 * @property {string} id
 * @property {string} name
 * @property {string} [bio]
 * @property {number} [openness]
 * @property {number} [conscientiousness]
 * @property {number} [extraversion]
 * @property {number} [agreeableness]
 * @property {number} [neuroticism]
 * @property {number} pleasure
 * @property {number} arousal
 * @property {number} dominance
 * @property {string} label emotion label
 * @property {number} energy
 * @property {string} status
 */

/**
 * @typedef {object} RelationshipEdge
 * @property {string} from
 * @property {string} to
 * @property {number} strength
 * @property {number} trust
 * @property {number} interaction_count
 * @property {string} label
 */

/** @typedef {"energy" | "influence"} SizeMode */

const MIN_NODE = 18;
const MAX_NODE = 48;
const NEGATIVE = [214, 69, 69];
const NEUTRAL = [176, 184, 196];
const POSITIVE = [47, 158, 68];
/** Above this many edges, straight overlapping "haystack" edges keep the frame rate up. */
const HAYSTACK_ABOVE_EDGES = 600;
/** The zoom a small network is shown at instead of filling the box. */
const COMFORTABLE_ZOOM = 1.25;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/**
 * @param {number} value
 * @param {number} low
 * @param {number} high
 */
function clamp(value, low, high) {
  return Number.isFinite(value) ? Math.min(high, Math.max(low, value)) : low;
}

/**
 * Relationship strength -1..1 as a colour: red (negative) → grey → green (positive).
 * @param {number} strength
 * @returns {string}
 */
export function strengthColor(strength) {
  const s = clamp(strength, -1, 1);
  const end = s < 0 ? NEGATIVE : POSITIVE;
  const t = Math.abs(s);
  const mix = NEUTRAL.map((channel, i) => Math.round(channel + (end[i] - channel) * t));
  return `rgb(${mix[0]}, ${mix[1]}, ${mix[2]})`;
}

/**
 * Trust 0..1 as an edge width in pixels.
 * @param {number} trust
 */
export function trustWidth(trust) {
  return 1 + clamp(trust, 0, 1) * 5;
}

/** @type {Map<string, string>} */
const emotionColors = new Map();

/**
 * The colour of an emotion label, from the stylesheet's --emo-<label> custom properties.
 * @param {string} label
 * @returns {string}
 */
export function emotionColor(label) {
  const key = /^[a-z]+$/.test(label) ? label : "neutral";
  let color = emotionColors.get(key);
  if (!color) {
    const style = getComputedStyle(document.documentElement);
    color = style.getPropertyValue(`--emo-${key}`).trim() || style.getPropertyValue("--emo-neutral").trim() || "#9aa5b1";
    emotionColors.set(key, color);
  }
  return color;
}

/**
 * @param {string} from
 * @param {string} to
 */
export function edgeId(from, to) {
  return `${from}>${to}`;
}

/**
 * @param {RelationshipEdge} edge
 * @returns {Record<string, unknown>}
 */
function edgeData(edge) {
  return {
    id: edgeId(edge.from, edge.to),
    source: edge.from,
    target: edge.to,
    strength: edge.strength,
    trust: edge.trust,
    interaction_count: edge.interaction_count,
    label: edge.label,
    color: strengthColor(edge.strength),
    width: trustWidth(edge.trust),
  };
}

export class NetworkView {
  /**
   * @param {CyCore} cy
   * @param {(id: string | null) => void} onSelect
   */
  constructor(cy, onSelect) {
    this.cy = cy;
    this.onSelect = onSelect;
    /** @type {SizeMode} */
    this.sizeMode = "energy";
    /** @type {Map<string, number>} character id -> influence 0..1 */
    this.influence = new Map();
    /** @type {string | null} */
    this.selected = null;
    /** How many in-place updates were applied (tests and the curious read it). */
    this.updates = 0;
  }

  /**
   * Load cytoscape from static/vendor/ and draw the network.
   * @param {object} options
   * @param {HTMLElement} options.container
   * @param {string} options.cytoscapeUrl
   * @param {CharacterNode[]} options.characters
   * @param {RelationshipEdge[]} options.relationships
   * @param {(id: string | null) => void} options.onSelect
   * @returns {Promise<NetworkView>}
   */
  static async create(options) {
    const module = await import(options.cytoscapeUrl);
    const cytoscape = /** @type {CytoscapeFactory} */ (module.default);
    const known = new Set(options.characters.map((c) => c.id));
    const edges = options.relationships.filter((e) => known.has(e.from) && known.has(e.to));
    /** @type {CyElementDefinition[]} */
    const elements = [
      ...options.characters.map((c) => ({ group: /** @type {const} */ ("nodes"), data: NetworkView.nodeData(c, "energy", undefined) })),
      ...edges.map((e) => ({ group: /** @type {const} */ ("edges"), data: edgeData(e) })),
    ];
    const cy = cytoscape({
      container: options.container,
      elements,
      style: NetworkView.style(edges.length > HAYSTACK_ABOVE_EDGES),
      layout: NetworkView.layoutOptions(options.characters.length, edges.length),
      minZoom: 0.15,
      maxZoom: 3,
      boxSelectionEnabled: false,
      autounselectify: true,
      textureOnViewport: edges.length > HAYSTACK_ABOVE_EDGES,
      hideEdgesOnViewport: edges.length > 1500,
      pixelRatio: edges.length > HAYSTACK_ABOVE_EDGES ? 1 : "auto",
    });
    // A small cast would be fitted at a giant zoom; keep it at a natural size, centred.
    if (cy.zoom() > COMFORTABLE_ZOOM) {
      cy.zoom(COMFORTABLE_ZOOM);
      cy.center();
    }
    const view = new NetworkView(cy, options.onSelect);
    cy.on("tap", "node", (event) => {
      const node = /** @type {CyElement} */ (event.target);
      view.onSelect(node.id());
    });
    cy.on("tap", (event) => {
      if (event.target === cy) view.onSelect(null);
    });
    return view;
  }

  /**
   * @param {number} nodeCount
   * @param {number} edgeCount
   * @returns {Record<string, unknown>}
   */
  static layoutOptions(nodeCount, edgeCount) {
    if (nodeCount <= 1) return { name: "grid", padding: 40 };
    if (nodeCount > 150 || edgeCount > 1200) {
      // Big casts: a force layout would take seconds; concentric by degree is instant.
      return { name: "concentric", padding: 20, minNodeSpacing: 6, animate: false, concentric: (/** @type {{degree: () => number}} */ n) => n.degree() };
    }
    return {
      name: "cose",
      animate: false,
      randomize: true,
      padding: 30,
      nodeDimensionsIncludeLabels: true,
      nodeRepulsion: () => 60_000,
      nodeOverlap: 12,
      idealEdgeLength: () => 110,
      edgeElasticity: () => 80,
      gravity: 0.6,
      componentSpacing: 60,
      numIter: 1500,
    };
  }

  /**
   * @param {boolean} haystack
   * @returns {Record<string, unknown>[]}
   */
  static style(haystack) {
    return [
      {
        selector: "node",
        style: {
          "background-color": "data(color)",
          width: "data(size)",
          height: "data(size)",
          label: "data(name)",
          "font-family": FONT,
          "font-size": 12,
          "font-weight": 600,
          color: "#1d2433",
          "text-valign": "bottom",
          "text-margin-y": 5,
          "text-outline-color": "#ffffff",
          "text-outline-width": 2.5,
          "min-zoomed-font-size": 7,
          "border-width": 2,
          "border-color": "#ffffff",
          "transition-property": "background-color, width, height, border-color, border-width",
          "transition-duration": 400,
        },
      },
      { selector: "node.resting", style: { opacity: 0.55 } },
      { selector: "node.picked", style: { "border-color": "#4338ca", "border-width": 5 } },
      { selector: "node.pulse", style: { "border-color": "#f59e0b", "border-width": 6 } },
      {
        selector: "edge",
        style: {
          "line-color": "data(color)",
          width: "data(width)",
          "curve-style": haystack ? "haystack" : "bezier",
          "haystack-radius": 0.4,
          "target-arrow-shape": haystack ? "none" : "triangle",
          "target-arrow-color": "data(color)",
          "arrow-scale": 0.7,
          opacity: 0.75,
          "transition-property": "line-color, width, opacity",
          "transition-duration": 400,
        },
      },
      { selector: "edge.pulse", style: { opacity: 1, "z-index": 10 } },
      { selector: ".faded", style: { opacity: 0.12 } },
      { selector: "edge.near", style: { opacity: 1 } },
    ];
  }

  /**
   * @param {CharacterNode} character
   * @param {SizeMode} mode
   * @param {number | undefined} influence
   * @returns {Record<string, unknown>}
   */
  static nodeData(character, mode, influence) {
    const measure = mode === "influence" && influence !== undefined ? influence : character.energy;
    return {
      ...character,
      color: emotionColor(character.label),
      size: MIN_NODE + clamp(measure, 0, 1) * (MAX_NODE - MIN_NODE),
    };
  }

  /** @param {string} id */
  has(id) {
    return this.cy.getElementById(id).length > 0;
  }

  /**
   * The node's current data (a copy of what the page knows about the character).
   * @param {string} id
   * @returns {CharacterNode | null}
   */
  character(id) {
    const node = this.cy.getElementById(id);
    return node.length ? /** @type {CharacterNode} */ (node.data()) : null;
  }

  /** @param {string} id */
  nameOf(id) {
    const node = this.cy.getElementById(id);
    return node.length ? String(node.data("name")) : "someone";
  }

  /**
   * Relationships touching a character: outgoing (how they regard others) and incoming.
   * @param {string} id
   * @returns {{outgoing: RelationshipEdge[], incoming: RelationshipEdge[]}}
   */
  relationshipsOf(id) {
    /** @type {RelationshipEdge[]} */
    const outgoing = [];
    /** @type {RelationshipEdge[]} */
    const incoming = [];
    const node = this.cy.getElementById(id);
    if (!node.length) return { outgoing, incoming };
    node.connectedEdges().forEach((edge) => {
      const data = edge.data();
      const row = {
        from: String(data.source),
        to: String(data.target),
        strength: Number(data.strength),
        trust: Number(data.trust),
        interaction_count: Number(data.interaction_count),
        label: String(data.label ?? ""),
      };
      (row.from === id ? outgoing : incoming).push(row);
    });
    return { outgoing, incoming };
  }

  /** Counts for the stats cards. */
  counts() {
    return { characters: this.cy.nodes().length, relationships: this.cy.edges().length };
  }

  /**
   * Apply a character's new emotion/energy (from character_state_changed or an interaction).
   * @param {string} id
   * @param {Partial<CharacterNode>} state
   */
  updateCharacter(id, state) {
    const node = this.cy.getElementById(id);
    if (!node.length) {
      if (state.status === "archived" || !state.name) return;
      this.addCharacter(/** @type {CharacterNode} */ ({ ...state, id }));
      return;
    }
    if (state.status === "archived") {
      node.remove();
      this.bump();
      return;
    }
    const current = /** @type {CharacterNode} */ (node.data());
    const next = { ...current };
    for (const key of /** @type {(keyof CharacterNode)[]} */ (["name", "label", "energy", "pleasure", "arousal", "dominance", "status"])) {
      if (state[key] !== undefined && state[key] !== null) {
        /** @type {Record<string, unknown>} */ (next)[key] = state[key];
      }
    }
    node.data(NetworkView.nodeData(next, this.sizeMode, this.influence.get(id)));
    if (next.status === "resting") node.addClass("resting");
    else node.removeClass("resting");
    this.bump();
  }

  /** @param {CharacterNode} character */
  addCharacter(character) {
    const box = this.cy.nodes().length ? this.cy.nodes().boundingBox() : { x1: 0, y1: 0, w: 200, h: 200 };
    const position = { x: box.x1 + Math.random() * box.w, y: box.y1 + Math.random() * box.h };
    this.cy.add({ group: "nodes", data: NetworkView.nodeData(character, this.sizeMode, undefined), position });
    this.bump();
  }

  /**
   * Apply one entry of relationship_changed.changes (absolute values, so applying twice is
   * harmless). A pair seen for the first time is added as a new edge.
   * @param {Record<string, any>} change
   */
  updateRelationship(change) {
    const from = String(change.from);
    const to = String(change.to);
    if (!this.has(from) || !this.has(to)) return;
    /** @type {RelationshipEdge} */
    const edge = {
      from,
      to,
      strength: Number(change.strength_after),
      trust: Number(change.trust_after),
      interaction_count: Number(change.interaction_count ?? 0),
      label: String(change.label ?? ""),
    };
    const element = this.cy.getElementById(edgeId(from, to));
    if (element.length) {
      element.data(edgeData(edge));
    } else {
      this.cy.add({ group: "edges", data: edgeData(edge) });
      if (this.selected) this.highlight(this.selected);
    }
    this.bump();
  }

  /**
   * Briefly mark the characters (and the edges between them) of an interaction.
   * @param {string[]} ids
   */
  pulse(ids) {
    for (const id of ids) {
      const node = this.cy.getElementById(id);
      if (node.length) node.flashClass("pulse", 1200);
    }
    if (ids.length === 2) {
      for (const [a, b] of [[ids[0], ids[1]], [ids[1], ids[0]]]) {
        const edge = this.cy.getElementById(edgeId(a, b));
        if (edge.length) edge.flashClass("pulse", 1200);
      }
    }
  }

  /**
   * Mark a character as picked and fade what is not connected to it (null clears).
   * @param {string | null} id
   */
  select(id) {
    this.selected = id && this.has(id) ? id : null;
    this.highlight(this.selected);
  }

  /** @param {string | null} id */
  highlight(id) {
    this.cy.batch(() => {
      this.cy.elements().removeClass("picked faded near");
      if (!id) return;
      const node = this.cy.getElementById(id);
      if (!node.length) return;
      this.cy.elements().addClass("faded");
      node.closedNeighborhood().removeClass("faded");
      node.connectedEdges().addClass("near");
      node.addClass("picked");
    });
  }

  /**
   * Size nodes by energy or by the influence ranking (when the graph service answers).
   * @param {SizeMode} mode
   */
  setSizeMode(mode) {
    this.sizeMode = mode;
    this.cy.batch(() => {
      this.cy.nodes().forEach((node) => {
        node.data(NetworkView.nodeData(/** @type {CharacterNode} */ (node.data()), mode, this.influence.get(node.id())));
      });
    });
  }

  /** @param {Map<string, number>} scores character id -> score (any scale) */
  setInfluence(scores) {
    const values = [...scores.values()].filter(Number.isFinite);
    const max = Math.max(...values, 0);
    this.influence = new Map([...scores].map(([id, score]) => [id, max > 0 ? score / max : 0]));
    if (this.sizeMode === "influence") this.setSizeMode("influence");
  }

  fit() {
    this.cy.fit(undefined, 30);
    if (this.cy.zoom() > COMFORTABLE_ZOOM) {
      this.cy.zoom(COMFORTABLE_ZOOM);
      this.cy.center();
    }
  }

  relayout() {
    const counts = this.counts();
    const layout = this.cy.layout({ ...NetworkView.layoutOptions(counts.characters, counts.relationships), animate: false });
    layout.run();
    this.fit();
  }

  resize() {
    this.cy.resize();
  }

  bump() {
    this.updates += 1;
  }
}
