import type { Theme } from 'vitepress';
import DefaultTheme from 'vitepress/theme';
import FlowDemo from './components/FlowDemo.vue';
import GumbelDemo from './components/GumbelDemo.vue';
import VaeDemo from './components/VaeDemo.vue';
import VarianceDemo from './components/VarianceDemo.vue';
import './demo.css';

export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component('GumbelDemo', GumbelDemo);
    app.component('VarianceDemo', VarianceDemo);
    app.component('FlowDemo', FlowDemo);
    app.component('VaeDemo', VaeDemo);
  },
} satisfies Theme;
